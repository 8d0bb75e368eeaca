// What a queued job keeps in Redis besides BullMQ's own queue: its spec, its shards, one result per
// shard and the reason of each shard that failed for good. Keys share a {hash tag} per job so the
// Lua scripts below, which touch several of them, also work on Redis Cluster.
//
//   rcae:{NAME}:job      hash: spec (JSON), state (queued | cancelled), counters, times
//   rcae:{NAME}:shards   hash: shard index -> Shard JSON
//   rcae:{NAME}:results  hash: shard index -> ShardResult JSON, written once (HSETNX)
//   rcae:{NAME}:failed   hash: shard index -> reason, for shards that used up their attempts

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Shard } from './manifest.js';
import { LIMITS, parseResult, parseShard, parseSpec, StoredDataError, storedCount, storedReason } from './stored.js';

/** The BullMQ queue every rcae job's shards go through; a shard's BullMQ job is named after its rcae job. */
export const QUEUE_NAME = 'rcae-shards';

export interface JobSpec {
  name: string;
  /** Working directory of `submit`: relative input paths resolve against it on every worker. */
  cwd: string;
  /** Absolute path of the model, which must be the same file on every worker (checked by SHA-256). */
  model: string;
  modelSha256: string;
  level: string;
  threshold: number;
  /** Samples per GPU batch on the workers. */
  batch: number;
  shardSize: number;
  shardCount: number;
  inputCount: number;
  attempts: number;
  /** Identifies the job's content (model, threshold, inputs, shards): an identical resubmission is recognised. */
  fingerprint: string;
  createdAt: number;
}

export interface ShardResult {
  /**
   * Per sample of the shard: the reconstruction error; 'NaN', 'Infinity' or '-Infinity' when it is
   * not finite (JSON has no such numbers; the row is labelled INVALID); null when the sample could
   * not be read.
   */
  errors: (number | string | null)[];
  /** Why a sample could not be read, by its position in the shard. */
  reasons: Record<number, string>;
  worker: string;
}

export interface JobCounters {
  state: 'queued' | 'cancelled';
  doneInputs: number;
  rowFailures: number;
  startedAt?: number;
  lastDoneAt?: number;
}

export const keys = (name: string) => ({
  job: `rcae:{${name}}:job`,
  shards: `rcae:{${name}}:shards`,
  results: `rcae:{${name}}:results`,
  failed: `rcae:{${name}}:failed`,
});

/** BullMQ job id of a shard: stable, so adding a shard twice is a no-op. */
export const shardJobId = (name: string, index: number) => `${name}.${index}`;

// Stores a shard's result only if none is stored yet, and counts it once; a result computed for an
// earlier job of the same name (removed and submitted again meanwhile) is dropped.
const STORE_RESULT = `
if redis.call('HGET', KEYS[2], 'fingerprint') ~= ARGV[6] then return 0 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'doneInputs', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'rowFailures', ARGV[4])
redis.call('HSET', KEYS[2], 'lastDoneAt', ARGV[5])
return 1`;

// Records a shard's final failure unless a result arrived meanwhile (a slower duplicate may finish).
const STORE_FAILURE = `
if redis.call('HGET', KEYS[3], 'fingerprint') ~= ARGV[3] then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])`;

// Creates a job from staged shards unless the name is taken (then returns 1);
// leftovers of a removed job of the same name are cleared.
const CREATE_JOB = `
if redis.call('HEXISTS', KEYS[1], 'spec') == 1 then return 1 end
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('RENAME', KEYS[3], KEYS[2])
redis.call('HSET', KEYS[1], 'spec', ARGV[1], 'fingerprint', ARGV[2], 'state', 'queued', 'doneInputs', 0, 'rowFailures', 0)
return false`;


// Reads fields of a hash, each at most ARGV[1] bytes, until the reply holds ARGV[2] bytes (at least
// one field is always read). Per field, in order: its value, false when absent, or its size in
// bytes when it is over the limit (then it is not read). Sizes are known before any value is sent,
// so no stored value can make a reader allocate more than it asked for.
const READ_BOUNDED = `
local max, budget, used, out = tonumber(ARGV[1]), tonumber(ARGV[2]), 0, {}
for i = 3, #ARGV do
  local n = redis.call('HSTRLEN', KEYS[1], ARGV[i])
  if n > max then
    out[#out + 1] = n
  else
    if used + n > budget and #out > 0 then break end
    used = used + n
    out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  end
end
return out`;

/** A field's value; null when absent; `{ bytes }` when larger than the limit it was read with. */
export type BoundedValue = string | null | { bytes: number };

/** Shards (or results) are read this many at a time, so a job of any size is never held in one reply. */
export const CHUNK = 1000;

const indices = (start: number, count: number) => Array.from({ length: count }, (_, i) => String(start + i));

/** Fields of a hash, each read only when at most `max` bytes; replies of at most LIMITS.replyBytes. */
export async function readBounded(redis: Redis, key: string, fields: readonly string[], max: number): Promise<BoundedValue[]> {
  const values: BoundedValue[] = [];
  while (values.length < fields.length) {
    const got = (await redis.eval(READ_BOUNDED, 1, key, max, LIMITS.replyBytes, ...fields.slice(values.length))) as (string | number | null)[];
    for (const v of got) values.push(typeof v === 'number' ? { bytes: v } : v);
  }
  return values;
}

/** The stored text of one field, or undefined when absent; a value over `max` bytes throws naming `what`. */
async function readOne(redis: Redis, key: string, field: string, max: number, what: string): Promise<string | undefined> {
  const [value] = await readBounded(redis, key, [field], max);
  if (value !== null && typeof value === 'object') throw new StoredDataError(`${what} is ${value.bytes} bytes (limit ${max})`);
  return value ?? undefined;
}

function parsedOrError<T>(value: BoundedValue, what: string, limit: number, parse: (json: string) => T): T | StoredDataError | undefined {
  if (value === null) return undefined;
  if (typeof value === 'object') return new StoredDataError(`${what} is ${value.bytes} bytes (limit ${limit})`);
  try {
    return parse(value);
  } catch (err) {
    if (err instanceof StoredDataError) return err;
    throw err;
  }
}

export class JobStore {
  constructor(private readonly redis: Redis) {}

  /**
   * Creates the job unless one of that name exists, atomically: the shards are staged under a
   * temporary key and moved into place together with the spec. Returns the spec already stored under
   * the name, or undefined when this call created the job.
   */
  async create(spec: JobSpec, shards: readonly Shard[]): Promise<JobSpec | undefined> {
    const k = keys(spec.name);
    const staging = `${k.shards}:staging-${randomUUID()}`;
    try {
      for (let i = 0; i < shards.length; i += CHUNK) {
        const fields: string[] = [];
        for (const s of shards.slice(i, i + CHUNK)) fields.push(String(s.index), JSON.stringify(s));
        await this.redis.hset(staging, ...fields);
      }
      const existing = await this.redis.eval(CREATE_JOB, 5, k.job, k.shards, staging, k.results, k.failed, JSON.stringify(spec), spec.fingerprint);
      return existing === 1 ? this.spec(spec.name) : undefined;
    } finally {
      await this.redis.del(staging);
    }
  }

  /** The job's spec, checked; undefined when there is no such job; StoredDataError when it is damaged. */
  async spec(name: string): Promise<JobSpec | undefined> {
    const json = await readOne(this.redis, keys(name).job, 'spec', LIMITS.specBytes, `job ${name}: stored spec`);
    return json === undefined ? undefined : parseSpec(json, name);
  }

  async counters(spec: JobSpec): Promise<JobCounters> {
    const [state, ...counts] = await readBounded(this.redis, keys(spec.name).job, ['state', 'doneInputs', 'rowFailures', 'startedAt', 'lastDoneAt'], 32);
    const [doneInputs, rowFailures, startedAt, lastDoneAt] = counts.map((v, i) => storedCount(typeof v === 'string' ? v : undefined, i < 2 ? spec.inputCount : Number.MAX_SAFE_INTEGER));
    return { state: state === 'cancelled' ? 'cancelled' : 'queued', doneInputs: doneInputs ?? 0, rowFailures: rowFailures ?? 0, startedAt, lastDoneAt };
  }

  async isCancelled(name: string): Promise<boolean> {
    const [state] = await readBounded(this.redis, keys(name).job, ['state'], 32);
    return state === 'cancelled';
  }

  async cancel(name: string): Promise<void> {
    await this.redis.hset(keys(name).job, 'state', 'cancelled');
  }

  async markStarted(name: string, now: number): Promise<void> {
    await this.redis.hsetnx(keys(name).job, 'startedAt', now);
  }

  /** Shard `index` of the job, checked; throws StoredDataError when it is missing or damaged. */
  async shard(spec: JobSpec, index: number): Promise<Shard> {
    const [shard] = await this.shards(spec, index, 1);
    if (shard instanceof StoredDataError) throw shard;
    return shard;
  }

  /** Shards start .. start+count-1, each checked; a missing or damaged one is a StoredDataError in its place. */
  async shards(spec: JobSpec, start: number, count: number): Promise<(Shard | StoredDataError)[]> {
    const values = await readBounded(this.redis, keys(spec.name).shards, indices(start, count), LIMITS.shardBytes);
    return values.map((value, i) => {
      const what = `job ${spec.name} shard ${start + i}: stored shard`;
      return parsedOrError(value, what, LIMITS.shardBytes, (json) => parseShard(json, spec, start + i)) ?? new StoredDataError(`${what} is missing`);
    });
  }

  async hasResult(name: string, index: number): Promise<boolean> {
    return (await this.redis.hexists(keys(name).results, String(index))) === 1;
  }

  /** Stores the result of shard `index` of the job `spec` describes if it has none yet; true when this call stored it. */
  async storeResult(spec: JobSpec, index: number, result: ShardResult, now: number): Promise<boolean> {
    const k = keys(spec.name);
    const failures = result.errors.filter((e) => e === null).length;
    const stored = await this.redis.eval(STORE_RESULT, 3, k.results, k.job, k.failed,
      String(index), JSON.stringify(result), result.errors.length, failures, now, spec.fingerprint);
    return stored === 1;
  }

  async storeFailure(spec: JobSpec, index: number, reason: string): Promise<void> {
    const k = keys(spec.name);
    await this.redis.eval(STORE_FAILURE, 3, k.results, k.failed, k.job, String(index), storedReason(reason), spec.fingerprint);
  }

  /** Results of shards start .. start+count-1, each checked; undefined where none is stored. */
  async results(spec: JobSpec, start: number, count: number): Promise<(ShardResult | StoredDataError | undefined)[]> {
    const values = await readBounded(this.redis, keys(spec.name).results, indices(start, count), LIMITS.resultBytes);
    return values.map((value, i) => parsedOrError(value, `job ${spec.name} shard ${start + i}: stored result`, LIMITS.resultBytes, (json) => parseResult(json, spec, start + i)));
  }

  /** Reasons of the shards start .. start+count-1 that failed for good; undefined where none failed. */
  async failures(spec: JobSpec, start: number, count: number): Promise<(string | undefined)[]> {
    const values = await readBounded(this.redis, keys(spec.name).failed, indices(start, count), 4 * LIMITS.reasonLength);
    return values.map((v) => (v === null ? undefined : typeof v === 'string' ? storedReason(v) : `(a stored reason of ${v.bytes} bytes)`));
  }

  /** Which of the shards start .. start+count-1 have a result and which a final failure, without reading either. */
  async settled(spec: JobSpec, start: number, count: number): Promise<{ done: boolean[]; failed: boolean[] }> {
    const k = keys(spec.name);
    const fields = indices(start, count);
    // A limit of 0 bytes reads nothing but empty values: present fields come back as their size.
    const [done, failed] = await Promise.all([k.results, k.failed].map((key) => readBounded(this.redis, key, fields, 0)));
    const present = (v: BoundedValue) => v !== null;
    return { done: done.map(present), failed: failed.map(present) };
  }

  /** Shards with a result and shards failed for good, as Redis counts them (a damaged hash may hold other fields). */
  async settledCounts(name: string): Promise<{ done: number; failed: number }> {
    const k = keys(name);
    const [done, failed] = await Promise.all([this.redis.hlen(k.results), this.redis.hlen(k.failed)]);
    return { done, failed };
  }

  async remove(name: string): Promise<void> {
    const k = keys(name);
    await this.redis.del(k.job, k.shards, k.results, k.failed);
  }
}
