// One damaged job cannot poison the queue, and collect writes every row. A finished job of 200,000
// inputs is stored directly in a real redis-server (as workers would leave it: results, a shard
// failed for good, rows that could not be read, a shard whose queue entry vanished), next to a job
// whose spec is not JSON, a job with damaged and out-of-bounds shards and a queue entry whose data
// is not JSON. `collect` must give all 200,000 rows through a slow pipe and into a file, FAILED rows
// with their reason; `status` must answer for the good job; `doctor` must list each damaged entry by
// job and shard, and `clean --broken` remove them and nothing else.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Shard } from '../../src/queue/manifest.js';
import { JobStore, keys, QUEUE_NAME, type JobSpec } from '../../src/queue/store.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { random, SEED } from '../helpers/random.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';
import { rcaeAsync } from './support.js';

const suiteTest = suite('queue poison');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });

const INPUTS = 200_000;
const SHARD = 256;
const SHARDS = Math.ceil(INPUTS / SHARD);
const THRESHOLD = 0.5;
/** Shard failed for good (its reason stored), shard with unreadable rows, shard with no result and no queue entry. */
const FAILED_SHARD = 17;
const ROWS_SHARD = 40;
const UNREADABLE = [3, 99, 255];
const LOST_SHARD = 300;
const hex = (tag: string) => tag.padEnd(64, '0');

let redis: RedisServer;
let client: Redis;
let tmp: string;
let errors: number[];

function specOf(name: string, inputCount: number, shardSize: number, fingerprint: string): JobSpec {
  return {
    name, cwd: '/data', model: '/models/m.ckpt', modelSha256: hex('ab'), level: String(THRESHOLD), threshold: THRESHOLD, batch: 32,
    shardSize, shardCount: Math.ceil(inputCount / shardSize), inputCount, attempts: 3, fingerprint: hex(fingerprint), createdAt: 0,
  };
}

const inputName = (i: number) => `photos/${String(i).padStart(6, '0')}.png`;

function shardsOf(spec: JobSpec): Shard[] {
  return Array.from({ length: spec.shardCount }, (_, index) => {
    const offset = index * spec.shardSize;
    const count = Math.min(spec.shardSize, spec.inputCount - offset);
    return { index, offset, count, runs: [{ kind: 'images', paths: Array.from({ length: count }, (_, i) => inputName(offset + i)) }] };
  });
}

async function storeBigJob(): Promise<void> {
  const spec = specOf('big', INPUTS, SHARD, 'b1');
  const store = new JobStore(client);
  assert.is(await store.create(spec, shardsOf(spec)), undefined);
  const rng = random(SEED);
  errors = Array.from({ length: INPUTS }, () => rng.next());
  for (let index = 0; index < SHARDS; index++) {
    if (index === LOST_SHARD) continue;
    if (index === FAILED_SHARD) {
      await store.storeFailure(spec, index, 'shard 17 failed: /models/m.ckpt: not the model the job was submitted with');
      continue;
    }
    const offset = index * SHARD;
    const count = Math.min(SHARD, INPUTS - offset);
    const shardErrors: (number | null)[] = errors.slice(offset, offset + count);
    const reasons: Record<number, string> = {};
    if (index === ROWS_SHARD) for (const i of UNREADABLE) [shardErrors[i], reasons[i]] = [null, `${inputName(offset + i)}: not a PNG, JPEG or WebP image`];
    await store.storeResult(spec, index, { errors: shardErrors, reasons, worker: 'w' }, index);
  }
}

async function storeDamagedJobs(): Promise<void> {
  // A spec that is not JSON.
  await client.hset(keys('poison').job, 'spec', '{"name": "poison", oops', 'state', 'queued');
  // A good spec whose shard 1 is not JSON and whose shard 2 claims a billion inputs.
  const spec = specOf('torn', 12, 4, 'c1');
  assert.is(await new JobStore(client).create(spec, shardsOf(spec)), undefined);
  await client.hset(keys('torn').shards, '1', '{"index": 1, "offset": 4,');
  await client.hset(keys('torn').shards, '2', JSON.stringify({ index: 2, offset: 8, count: 1e9, runs: [{ kind: 'npy', path: 'x.npy', start: 0, count: 1e9 }] }));
  // A queue entry whose data is not JSON, waiting.
  const entry = `bull:${QUEUE_NAME}:mangled.0`;
  await client.hset(entry, 'name', 'mangled', 'data', '{not json', 'opts', '{}', 'timestamp', Date.now());
  await client.rpush(`bull:${QUEUE_NAME}:wait`, 'mangled.0');
}

suiteTest.before(async () => {
  if (missing) return;
  tmp = tempDir('rcae-poison-');
  redis = await startRedis();
  client = await redis.client();
  await storeBigJob();
  await storeDamagedJobs();
});

suiteTest.after(async () => {
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Row {
  input: string;
  index: number;
  error?: number;
  label: string;
  reason?: string;
}

/** Every row of the big job, checked: one per input in order, FAILED exactly where expected, with the reason. */
function checkBigRows(rows: Row[]): void {
  assert.is(rows.length, INPUTS, 'one row per input');
  const failedReason = (i: number): RegExp | undefined => {
    const shard = Math.floor(i / SHARD);
    if (shard === FAILED_SHARD) return /^shard 17 failed: .*not the model the job was submitted with/;
    if (shard === LOST_SHARD) return /^shard 300 failed: no result, and no longer on the queue/;
    if (shard === ROWS_SHARD && UNREADABLE.includes(i % SHARD)) return /not a PNG, JPEG or WebP image/;
    return undefined;
  };
  let failed = 0;
  rows.forEach((r, i) => {
    if (r.index !== i || r.input !== inputName(i)) assert.unreachable(`row ${i} is ${JSON.stringify(r)}`);
    const reason = failedReason(i);
    if (reason) {
      failed++;
      if (r.label !== 'FAILED' || !reason.test(r.reason ?? '')) assert.unreachable(`row ${i} should be FAILED with ${reason}: ${JSON.stringify(r)}`);
    } else if (Math.abs(r.error! - errors[i]) > 1e-12 || r.label !== (errors[i] > THRESHOLD ? 'FAKE' : 'REAL')) {
      assert.unreachable(`row ${i}: ${JSON.stringify(r)}, error ${errors[i]}`);
    }
  });
  assert.is(failed, 2 * SHARD + UNREADABLE.length);
}

test('collect writes all 200,000 rows through a slow pipe, FAILED rows with their reason', async () => {
  const started = Date.now();
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'queue', 'collect', '--redis', redis.url, 'big'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // The reader takes nothing for a second, then rests after every chunk: the pipe fills, and rcae
  // must wait for it (and for the last rows, before exiting), not hold the rows or drop them.
  // The last rows are read slowest, when an exit that does not wait for them would cut them off.
  child.stdout.pause();
  const chunks: Buffer[] = [];
  let received = 0;
  child.stdout.on('data', (d: Buffer) => {
    chunks.push(d);
    for (const byte of d) if (byte === 10) received++;
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), received > INPUTS - 3000 ? 300 : 3);
  });
  await new Promise((r) => setTimeout(r, 1000));
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 0, stderr);
  const rows = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Row);
  checkBigRows(rows);
  assert.match(stderr, new RegExp(`${2 * SHARD + UNREADABLE.length} could not be scored`));
  console.log(`  ${INPUTS} rows through a pipe in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('collect --wait writes all 200,000 rows to a file (csv, with the reason column)', async () => {
  const out = join(tmp, 'big.csv');
  const r = await rcaeAsync(['queue', 'collect', '--redis', redis.url, '--wait', '--out', out, 'big']);
  assert.is(r.status, 0, r.stderr);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  assert.is(lines[0], 'input,index,error,threshold,label,reason');
  assert.is(lines.length, INPUTS + 1);
  const failed = lines.filter((l) => l.includes(',FAILED,'));
  assert.is(failed.length, 2 * SHARD + UNREADABLE.length);
  assert.ok(failed.every((l) => /,FAILED,.+$/.test(l)), 'every FAILED row has a reason');
});

test('status answers for the good job beside damaged ones; a damaged job is named, one line, exit 1', async () => {
  const good = await rcaeAsync(['queue', 'status', '--redis', redis.url, '--json', 'big']);
  assert.is(good.status, 0, good.stderr);
  const s = JSON.parse(good.stdout);
  assert.equal([s.state, s.shards.total, s.shards.done, s.shards.failed], ['running', SHARDS, SHARDS - 2, 1]);
  const bad = await rcaeAsync(['queue', 'status', '--redis', redis.url, 'poison']);
  assert.is(bad.status, 1);
  assert.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /^rcae queue: job poison: stored spec: not JSON .*rcae queue doctor/);
});

test('collect of a job with damaged shards: FAILED rows naming the job and shard for those, the others scored', async () => {
  const store = new JobStore(client);
  const spec = (await store.spec('torn'))!;
  for (const index of [0, 1, 2]) await store.storeResult(spec, index, { errors: [0.1, 0.9, 0.2, 0.8], reasons: {}, worker: 'w' }, 1);
  const r = await rcaeAsync(['queue', 'collect', '--redis', redis.url, 'torn']);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Row);
  assert.equal(rows.map((x) => x.index), Array.from({ length: 12 }, (_, i) => i));
  assert.equal(rows.map((x) => x.label), ['REAL', 'FAKE', 'REAL', 'FAKE', ...new Array(8).fill('FAILED')]);
  assert.match(rows[4].reason!, /^job torn shard 1: stored shard: not JSON/);
  assert.match(rows[8].reason!, /^job torn shard 2: stored shard: holds 1000000000 inputs, expected 4/);
  assert.match(r.stderr, /damaged: job torn shard 1: stored shard: not JSON/);
  assert.match(r.stderr, /damaged: job torn shard 2: stored shard: holds 1000000000 inputs, expected 4/);
});

test('doctor lists each damaged job, shard and queue entry; clean --broken removes them and nothing else', async () => {
  const d = await rcaeAsync(['queue', 'doctor', '--redis', redis.url]);
  assert.is(d.status, 1, d.stderr);
  const lines = d.stdout.trimEnd().split('\n');
  const expected = [
    /^job poison: stored spec: not JSON \(.+\)$/,
    /^job torn shard 1: stored shard: not JSON \(.+\)$/,
    /^job torn shard 2: stored shard: holds 1000000000 inputs, expected 4$/,
    /^queue entry mangled\.0: data is not JSON \(.+\) \(wait\)$/,
  ];
  assert.is(lines.length, expected.length, d.stdout);
  for (const re of expected) assert.ok(lines.some((l) => re.test(l)), `doctor lists ${re}:\n${d.stdout}`);
  assert.match(d.stderr, /4 damaged \(rcae queue clean --broken removes them/);
  const c = await rcaeAsync(['queue', 'clean', '--redis', redis.url, '--broken']);
  assert.is(c.status, 0, c.stderr);
  assert.match(c.stderr, /removed 2 damaged jobs and 1 damaged queue entry/);
  const again = await rcaeAsync(['queue', 'doctor', '--redis', redis.url]);
  assert.is(again.status, 0, again.stdout + again.stderr);
  assert.equal(await client.keys('rcae:{poison}:*'), []);
  assert.equal(await client.keys('rcae:{torn}:*'), []);
  assert.is(await client.exists(`bull:${QUEUE_NAME}:mangled.0`), 0);
  assert.is(await client.hlen(keys('big').results), SHARDS - 2, 'the good job is untouched');
});

suiteTest.run();
