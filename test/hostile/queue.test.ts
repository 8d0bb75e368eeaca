// Forged and malformed jobs against one real worker process and a real redis-server: queue entries
// whose data is not JSON or names no job, specs and shards that do not parse or claim billions of
// inputs, traversal in names, models and inputs that are /dev/zero, FIFOs, directories or missing.
// Each case must end within CASE_MS: failed for good (never retried past the job's attempts) with a
// one-line reason naming the problem, and no path of the worker's own in it; the worker must live
// through all of them and then give a good job the rows `rcae detect` gives.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256File } from '../../src/node/sha256.js';
import { keys, QUEUE_NAME } from '../../src/queue/store.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { SEED } from '../helpers/random.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';
import { jsonl, LEVEL, makeDataset, MODEL, rcaeAsync, startWorker, stopWorker, until, type WorkerProcess } from '../queue/support.js';

const suiteTest = suite('hostile/queue');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });
/** Each case is answered within this. */
const CASE_MS = 10_000;

let redis: RedisServer;
let client: Redis;
let queue: Queue;
let w: WorkerProcess;
let tmp: string;
let good: string[];
let modelSha256: string;
let fifo: string;

const hex = (tag: string) => tag.padEnd(64, '0');
const specOf = (name: string, extra: Record<string, unknown> = {}) => ({
  name, cwd: tmp, model: MODEL, modelSha256, level: LEVEL, threshold: Number(LEVEL), batch: 4, shardSize: 4, shardCount: 1, inputCount: 4,
  attempts: 1, fingerprint: hex('f'), createdAt: 0, ...extra,
});
const imagesShard = (paths: string[]) => JSON.stringify({ index: 0, offset: 0, count: paths.length, runs: [{ kind: 'images', paths }] });

/** Stores a job as submit would, but with whatever spec and shard text the case forges. */
async function forgeJob(name: string, spec: string | object, shard?: string): Promise<void> {
  const json = typeof spec === 'string' ? spec : JSON.stringify(spec);
  await client.hset(keys(name).job, 'spec', json, 'fingerprint', hex('f'), 'state', 'queued', 'doneInputs', 0, 'rowFailures', 0);
  if (shard !== undefined) await client.hset(keys(name).shards, '0', shard);
}

/**
 * Queues entry `id` with `data` (text, stored as is, JSON or not; other fields of BullMQ's own
 * too, when given) and waits until the worker has settled it. Returns its final state, failure reason and how many attempts it took.
 */
async function forgeEntry(id: string, data: string, opts: { attempts?: number; fields?: Record<string, string> } = {}): Promise<{ state: string; reason: string; attempts: number }> {
  const started = Date.now();
  // Added to a paused queue, so that the data is replaced before any worker can take the entry.
  await queue.pause();
  await queue.add('forged', {}, { jobId: id, attempts: opts.attempts ?? 1, backoff: { type: 'fixed', delay: 100 }, removeOnComplete: true, removeOnFail: false });
  await client.hset(queue.toKey(id), 'data', data, ...Object.entries(opts.fields ?? {}).flat());
  await queue.resume();
  let state = '';
  await until(`${id} to be settled`, async () => !['delayed', 'waiting', 'active', 'prioritized'].includes(state = await queue.getJobState(id)), CASE_MS, 20);
  const [reason, made, madeOld] = await client.hmget(queue.toKey(id), 'failedReason', 'atm', 'attemptsMade');
  console.log(`  ${id}: ${state} in ${Date.now() - started} ms${reason ? `: ${reason}` : ''}`);
  return { state, reason: reason ?? '', attempts: Number(made ?? madeOld ?? 0) };
}

/** One line, and no path of the worker's own (its working directory is the repository). */
function clean(reason: string, allowed = ''): void {
  assert.not.match(reason, /[\n\r]/, `one line: ${reason}`);
  assert.ok(!reason.replace(allowed, '').includes(repoRoot.replace(/\/$/, '')), `no server path in: ${reason}`);
  assert.not.match(reason, /node_modules|\bat .*\.js:\d+/, `no stack in: ${reason}`);
}

async function failsWith(id: string, data: string, pattern: RegExp): Promise<string> {
  const { state, reason } = await forgeEntry(id, data);
  assert.is(state, 'failed', `${id}: ${state}`);
  assert.match(reason, pattern);
  clean(reason);
  return reason;
}

suiteTest.before(async () => {
  if (missing) return;
  tmp = tempDir('rcae-hostile-queue-');
  good = await makeDataset(tmp, 16, SEED);
  modelSha256 = await sha256File(MODEL);
  fifo = join(tmp, 'fifo');
  execFileSync('mkfifo', [fifo]);
  redis = await startRedis();
  client = await redis.client();
  queue = new Queue(QUEUE_NAME, { connection: client });
  w = startWorker(redis.url, ['--lock-duration', '30000']);
});

suiteTest.after(async () => {
  if (w) await stopWorker(w);
  await queue?.close();
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('queue entries: data, options or progress not JSON, missing fields, traversal in the job name, shards out of range, another entry\'s shard', async () => {
  await failsWith('e1.0', '{"job": "e1", oops', /^queue entry e1\.0: data is not JSON \(/);
  await failsWith('e2.0', '{}', /^queue entry e2\.0: names no valid job \(data\.job\)$/);
  await failsWith('e3.0', '"just a string"', /^queue entry e3\.0: not a JSON object$/);
  await failsWith('e4.0', JSON.stringify({ job: '../../etc/passwd', shard: 0 }), /^queue entry e4\.0: names no valid job/);
  await failsWith('e5.0', JSON.stringify({ job: 'e5', shard: 1e9 }), /^queue entry e5\.0: names no shard \(data\.shard is not an integer in 0\.\.999999\)$/);
  await forgeJob('e6', specOf('e6'), imagesShard(['a.png', 'b.png', 'c.png', 'd.png']));
  await failsWith('e6.0', JSON.stringify({ job: 'e6', shard: 7 }), /^queue entry e6\.0: its data names shard 7 of e6, another entry$/);
  await failsWith('e6.7', JSON.stringify({ job: 'e6', shard: 7 }), /^queue entry e6\.7: job e6 has 1 shards, not 8$/);
  // BullMQ's own fields, which it parses before any processor sees the entry.
  for (const [id, field] of [['e7.0', 'opts'], ['e8.0', 'progress']]) {
    const { state, reason } = await forgeEntry(id, JSON.stringify({ job: 'e6', shard: 0 }), { fields: { [field]: '{bad' } });
    assert.is(state, 'failed', `${id}: ${state}`);
    assert.match(reason, new RegExp(`^queue entry ${id.replace('.', '\\.')}: options or progress are not JSON \\(`));
    clean(reason);
  }
});

test('specs: not JSON, huge counts, missing and relative fields, another job\'s name', async () => {
  const cases: [string, string | object, RegExp][] = [
    ['s1', '{"name": "s1", "cwd": ', /^job s1: stored spec: not JSON \(/],
    ['s2', specOf('s2', { inputCount: 1e12, shardCount: 1e9 }), /^job s2: stored spec: inputCount is not an integer in 0\.\.100000000$/],
    ['s3', specOf('s3', { shardSize: 1e9 }), /^job s3: stored spec: shardSize is not an integer in 1\.\.65536$/],
    ['s4', specOf('s4', { model: undefined }), /^job s4: stored spec: model is not an absolute path/],
    ['s5', specOf('s5', { cwd: '../..' }), /^job s5: stored spec: cwd is not an absolute path/],
    ['s6', specOf('other'), /^job s6: stored spec: names another job$/],
    ['s7', specOf('s7', { batch: 1e7 }), /^job s7: stored spec: batch is not an integer in 1\.\.1024$/],
  ];
  for (const [name, spec, pattern] of cases) {
    await forgeJob(name, spec);
    await failsWith(`${name}.0`, JSON.stringify({ job: name, shard: 0 }), pattern);
  }
});

test('shards: not JSON, a billion inputs (refused, not allocated), runs that do not add up, traversal in runs', async () => {
  const cases: [string, string, RegExp][] = [
    ['h1', '{"index": 0, "runs": [', /^job h1 shard 0: stored shard: not JSON \(/],
    ['h2', JSON.stringify({ index: 0, offset: 0, count: 1e9, runs: [{ kind: 'npy', path: '/x.npy', start: 0, count: 1e9 }] }), /^job h2 shard 0: stored shard: holds 1000000000 inputs, expected 4$/],
    ['h3', JSON.stringify({ index: 0, offset: 0, count: 4, runs: [{ kind: 'npy', path: '/x.npy', start: 0, count: 1e9 }] }), /^job h3 shard 0: stored shard: an npy run's start or count is out of bounds/],
    ['h4', JSON.stringify({ index: 0, offset: 0, count: 4, runs: [{ kind: 'images', paths: ['a.png'] }] }), /^job h4 shard 0: stored shard: runs hold 1 inputs, expected 4$/],
    ['h5', JSON.stringify({ index: 0, offset: 0, count: 4, runs: [{ kind: 'shell', path: 'rm -rf /' }] }), /^job h5 shard 0: stored shard: a run is not of kind images, npy or archive$/],
    ['h6', JSON.stringify({ index: 0, offset: 0, count: 4, runs: [{ kind: 'images', paths: ['a.png', 'b\u0000.png', 'c', 'd'] }] }), /^job h6 shard 0: stored shard: a run's paths are not a list/],
  ];
  for (const [name, shard, pattern] of cases) {
    await forgeJob(name, specOf(name), shard);
    await failsWith(`${name}.0`, JSON.stringify({ job: name, shard: 0 }), pattern);
    // Failed for good and recorded: collect gives every row FAILED with the reason.
    const r = await rcaeAsync(['queue', 'collect', '--redis', redis.url, name]);
    assert.is(r.status, 0, r.stderr);
    const rows = jsonl(r.stdout) as unknown as { label: string; reason: string }[];
    assert.is(rows.length, 4);
    assert.ok(rows.every((row) => row.label === 'FAILED' && row.reason.startsWith(`job ${name} shard 0: stored shard: `)), r.stdout);
  }
});

test('models that are /dev/zero, a FIFO, a directory or missing fail with the reason, within the job\'s attempts', async () => {
  const cases: [string, string, RegExp][] = [
    ['m1', '/dev/zero', /^\/dev\/zero: is a character device, not a regular file; refusing to read it as a model$/],
    ['m2', fifo, /: is a FIFO, not a regular file; refusing to read it as a model$/],
    ['m3', tmp, /: is a directory, not a regular file; refusing to read it as a model$/],
    ['m4', '/nonexistent/model.ckpt', /^\/nonexistent\/model\.ckpt: cannot read: no such file$/],
  ];
  for (const [name, model, pattern] of cases) {
    await forgeJob(name, specOf(name, { model, attempts: 2 }), imagesShard(['a.png', 'b.png', 'c.png', 'd.png']));
    // The entry asks for a billion attempts; the job's own two bound them.
    const { state, reason, attempts } = await forgeEntry(`${name}.0`, JSON.stringify({ job: name, shard: 0 }), { attempts: 1e9 });
    assert.is(state, 'failed', `${name}: ${state}`);
    assert.match(reason, pattern);
    assert.is(attempts, 2, `${name}: tried twice, then failed for good`);
    clean(reason, tmp);
  }
});

test('inputs that are traversal, /dev/zero, a FIFO, a directory or missing fail their own rows, one line each', async () => {
  const dir = join(tmp, 'job');
  mkdirSync(dir);
  writeFileSync(join(dir, 'text.png'), 'not an image');
  const paths = ['../../../../../../etc/shadow', '/dev/zero', fifo, tmp, 'missing.png', 'text.png', join(good[0], 'img-00000.png')];
  const spec = specOf('i1', { cwd: dir, shardSize: paths.length, inputCount: paths.length + 2, shardCount: 2 });
  await forgeJob('i1', spec, imagesShard(paths));
  await client.hset(keys('i1').shards, '1', JSON.stringify({ index: 1, offset: paths.length, count: 2, runs: [{ kind: 'npy', path: fifo, start: 0, count: 1 }, { kind: 'archive', path: '/dev/zero', first: 0, members: ['a.png'] }] }));
  for (const shard of [0, 1]) {
    const { state } = await forgeEntry(`i1.${shard}`, JSON.stringify({ job: 'i1', shard }));
    assert.is(state, 'unknown', 'the shard completed (its entry removed), its unreadable rows failed alone');
  }
  const r = await rcaeAsync(['queue', 'collect', '--redis', redis.url, 'i1']);
  assert.is(r.status, 0, r.stderr);
  const rows = jsonl(r.stdout) as unknown as { input: string; label: string; reason?: string }[];
  const expected = [
    /^(\.\.\/)+etc\/shadow: cannot decode image: [^/]*$|^\/etc\/shadow: cannot read: permission denied$/,
    /^\/dev\/zero: is a character device, not a regular file; refusing to read it as an image$/,
    /fifo: is a FIFO, not a regular file; refusing to read it as an image$/,
    /: is a directory, not a regular file; refusing to read it as an image$/,
    /missing\.png: cannot read: no such file$/,
    /^text\.png: cannot decode image: /,
  ];
  assert.is(rows.length, paths.length + 2);
  expected.forEach((pattern, i) => {
    assert.is(rows[i].label, 'FAILED', JSON.stringify(rows[i]));
    assert.match(rows[i].reason!, pattern);
    clean(rows[i].reason!, dir);
  });
  assert.ok(['REAL', 'FAKE'].includes(rows[6].label), `the readable image is scored: ${JSON.stringify(rows[6])}`);
  assert.match(rows[7].reason!, /fifo: is a FIFO, not a regular file; refusing to read it as /);
  assert.match(rows[8].reason!, /^\/dev\/zero: is a character device, not a regular file; refusing to read it as an archive/);
});

test('after all of them the same worker is alive and scores a good job as rcae detect does', async () => {
  assert.is(w.child.exitCode, null, w.log());
  const s = await rcaeAsync(['queue', 'submit', '--redis', redis.url, '--name', 'good', '--model', MODEL, '--level', LEVEL, '--shard-size', '5', ...good]);
  assert.is(s.status, 0, s.stderr);
  const out = join(tmp, 'good.jsonl');
  const c = await rcaeAsync(['queue', 'collect', '--redis', redis.url, '--wait', '--out', out, 'good'], undefined, 60_000);
  assert.is(c.status, 0, c.stderr);
  const d = await rcaeAsync(['detect', '--model', MODEL, '--level', LEVEL, '--format', 'jsonl', ...good]);
  const [rows, baseline] = [jsonl(readFileSync(out, 'utf8')), jsonl(d.stdout)];
  assert.is(rows.length, 16);
  rows.forEach((r, i) => {
    assert.equal([r.input, r.index, r.label], [baseline[i].input, baseline[i].index, baseline[i].label]);
    assert.ok(Math.abs(r.error - baseline[i].error) <= 1e-6, `row ${i}`);
  });
  assert.not.match(w.log(), /out of memory|FATAL|Unhandled/i);
});

suiteTest.run();
