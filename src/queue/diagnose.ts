// Finding and removing damaged entries: every rcae job in the Redis (its spec, shards, results,
// failures and counters) and every shard entry on the BullMQ queue is read through the same checks
// the worker and `collect` apply, a chunk at a time. A damaged job is listed by name and removed
// whole (collect its good rows first: collect skips what is damaged); a damaged queue entry is
// listed by id and removed from the queue.

import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { quotedMessage } from '../printable.js';
import { removeShardJobs } from './jobs.js';
import { CHUNK, JobStore, keys, QUEUE_NAME, readBounded, shardJobId, type BoundedValue } from './store.js';
import { isJobName, parseShardData, StoredDataError, storedCount, type ShardData } from './stored.js';

/** One damaged entry: a job (by name) or a queue entry (by id), and what is wrong, one line. */
export interface Damage {
  job?: string;
  entry?: string;
  problem: string;
}

/** A shard entry's data, options and progress are a few dozen bytes; larger is damage. */
const ENTRY_FIELD_BYTES = 4096;
/** Damaged shards and results listed per job; past this many, one line counts the rest. */
const LISTED_PER_JOB = 10;
const KEY = /^rcae:\{(.*)\}:(job|shards|results|failed)$/;
/** The BullMQ states a shard's entry can wait in; each is a list or a sorted set of ids. */
const STATES = [['wait', 'list'], ['paused', 'list'], ['active', 'list'], ['prioritized', 'zset'], ['delayed', 'zset'], ['failed', 'zset']] as const;

async function jobNames(redis: Redis): Promise<Map<string, Set<string>>> {
  const jobs = new Map<string, Set<string>>();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'rcae:{*}:*', 'COUNT', 1000);
    cursor = next;
    for (const key of found) {
      const m = KEY.exec(key);
      if (!m) continue;
      if (!jobs.has(m[1])) jobs.set(m[1], new Set());
      jobs.get(m[1])!.add(m[2]);
    }
  } while (cursor !== '0');
  return jobs;
}

async function checkJob(redis: Redis, name: string, kinds: Set<string>): Promise<string[]> {
  if (!isJobName(name)) return [`keys of a job whose name is not valid (${[...kinds].join(', ')})`];
  const store = new JobStore(redis);
  let spec;
  try {
    spec = await store.spec(name);
  } catch (err) {
    if (err instanceof StoredDataError) return [err.message];
    throw err;
  }
  if (!spec) return [`job ${name}: ${[...kinds].join(', ')} without a spec (a job removed in part)`];
  const problems: string[] = [];
  let more = 0;
  const note = (message: string) => (problems.length < LISTED_PER_JOB ? problems.push(message) : more++);
  let results = 0;
  let failed = 0;
  for (let start = 0; start < spec.shardCount; start += CHUNK) {
    const count = Math.min(CHUNK, spec.shardCount - start);
    const [shards, stored, settled] = await Promise.all([store.shards(spec, start, count), store.results(spec, start, count), store.settled(spec, start, count)]);
    for (const s of [...shards, ...stored]) if (s instanceof StoredDataError) note(s.message);
    results += settled.done.filter(Boolean).length;
    failed += settled.failed.filter(Boolean).length;
  }
  const k = keys(name);
  const [resultFields, failedFields, shardFields] = await Promise.all([redis.hlen(k.results), redis.hlen(k.failed), redis.hlen(k.shards)]);
  if (shardFields !== spec.shardCount) note(`job ${name}: ${shardFields} stored shards, expected ${spec.shardCount}`);
  if (resultFields !== results) note(`job ${name}: ${resultFields - results} stored results belong to no shard`);
  if (failedFields !== failed) note(`job ${name}: ${failedFields - failed} stored failures belong to no shard`);
  const counters = await readBounded(redis, k.job, ['doneInputs', 'rowFailures'], 32);
  counters.forEach((v, i) => {
    if (v !== null && storedCount(typeof v === 'string' ? v : undefined, spec.inputCount) === undefined) note(`job ${name}: counter ${['doneInputs', 'rowFailures'][i]} is not a count of at most ${spec.inputCount}`);
  });
  if (more > 0) problems.push(`job ${name}: and ${more} more damaged entries`);
  return problems;
}

/** What is wrong with one queue entry, or undefined when it is a well-formed shard entry. */
function entryProblem(id: string, data: BoundedValue, opts: BoundedValue, progress: BoundedValue): string | undefined {
  const at = `queue entry ${quotedMessage(id, 120)}`;
  if (data === null) return `${at}: has no data (a job removed in part?)`;
  for (const [what, value] of [['data', data], ['options', opts ?? '{}'], ['progress', progress ?? '0']] as const) {
    if (typeof value === 'object') return `${at}: ${what} over ${ENTRY_FIELD_BYTES} bytes`;
    try {
      JSON.parse(value);
    } catch (err) {
      return `${at}: ${what} is not JSON (${quotedMessage((err as Error).message, 80)})`;
    }
  }
  let shard: ShardData;
  try {
    shard = parseShardData(JSON.parse(data as string), id);
  } catch (err) {
    if (err instanceof StoredDataError) return err.message;
    throw err;
  }
  if (shardJobId(shard.job, shard.shard) !== id) return `${at}: its data names shard ${shard.shard} of ${shard.job}, another entry`;
  return undefined;
}

async function checkQueue(redis: Redis, queue: Queue, found: (d: Damage) => void): Promise<void> {
  for (const [state, type] of STATES) {
    const key = queue.toKey(state);
    const total = type === 'list' ? await redis.llen(key) : await redis.zcard(key);
    for (let start = 0; start < total; start += CHUNK) {
      const end = start + CHUNK - 1;
      const ids = type === 'list' ? await redis.lrange(key, start, end) : await redis.zrange(key, String(start), String(end));
      for (const id of ids) {
        const [data, opts, progress] = await readBounded(redis, queue.toKey(id), ['data', 'opts', 'progress'], ENTRY_FIELD_BYTES);
        const problem = entryProblem(id, data, opts, progress);
        if (problem) found({ entry: id, problem: `${problem} (${state})` });
      }
    }
  }
}

/** Every damaged job and queue entry in this Redis, each reported through `found` as it is met. */
export async function findDamage(redis: Redis, found: (d: Damage) => void): Promise<void> {
  for (const [name, kinds] of await jobNames(redis)) {
    for (const problem of await checkJob(redis, name, kinds)) found({ job: name, problem });
  }
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  try {
    await checkQueue(redis, queue, found);
  } finally {
    await queue.close();
  }
}

/** Removes what findDamage reported: damaged jobs whole, damaged queue entries. Returns what could not be removed. */
export async function removeDamage(redis: Redis, damage: readonly Damage[]): Promise<string[]> {
  const left: string[] = [];
  for (const name of new Set(damage.flatMap((d) => (d.job === undefined ? [] : [d.job])))) {
    // A job name that is not valid may hold glob characters: its keys go, its queue entries are not looked for.
    if (isJobName(name)) await removeShardJobs(redis, name, undefined);
    const k = keys(name);
    await redis.del(k.job, k.shards, k.results, k.failed);
  }
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  try {
    for (const id of new Set(damage.flatMap((d) => (d.entry === undefined ? [] : [d.entry])))) {
      // An entry locked by a worker stays; that worker fails it.
      if ((await queue.remove(id).catch(() => 0)) !== 1) left.push(`queue entry ${quotedMessage(id, 120)}: still locked by a worker; run clean --broken again once it has failed`);
    }
  } finally {
    await queue.close();
  }
  return left;
}
