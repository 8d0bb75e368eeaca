// A worker always ends: SIGTERM makes it take no more shards and exit within --shutdown-ms + 2 s in
// every state Redis can be in (answering, paused by SIGSTOP, killed), with a shard in progress or
// idle; a shard it could not finish goes back to the queue (or returns when its lock expires), and
// a second signal ends it at once. Real worker processes and a real redis-server.
import { rmSync } from 'node:fs';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { keys, QUEUE_NAME } from '../../src/queue/store.js';
import { tempDir } from '../helpers/paths.js';
import { SEED } from '../helpers/random.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';
import { LEVEL, makeDataset, MODEL, rcaeAsync, startWorker, until, type WorkerProcess } from './support.js';

const suiteTest = suite('queue shutdown');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });
/** Short, so the cases are quick; the bound is the same: exit within SHUTDOWN_MS + 2 s. */
const SHUTDOWN_MS = 3000;
const SLACK_MS = 2000;
/** A shard of this many inputs takes well over SHUTDOWN_MS on lavapipe (batch 1: ~10 ms each on a quiet 2-core VM). */
const SLOW_SHARD = 1500;

let redis: RedisServer;
let client: Redis;
let queue: Queue;
let tmp: string;
let images: string;
let jobs = 0;

suiteTest.before(async () => {
  if (missing) return;
  tmp = tempDir('rcae-shutdown-');
  [images] = await makeDataset(tmp, SLOW_SHARD + 6, SEED);
  redis = await startRedis();
  client = await redis.client();
  queue = new Queue(QUEUE_NAME, { connection: client });
  queue.on('error', () => {});
});

suiteTest.after(async () => {
  await queue?.close();
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The default lock (30 s): the support's 1.5 s lock can expire on a loaded machine, and a lost lock
// cannot be given back (the stalled check returns the shard instead).
const worker = () => startWorker(redis.url, ['--shutdown-ms', String(SHUTDOWN_MS), '--lock-duration', '30000']);
const started = (w: WorkerProcess) => until('the worker to start', async () => /worker .* on redis/.test(w.log()), 60_000, 50);

/** Submits one job of one shard over the images (the first `inputs` of them when given fewer). */
async function submit(shardSize = SLOW_SHARD): Promise<string> {
  const name = `stop-${jobs++}`;
  const r = await rcaeAsync(['queue', 'submit', '--redis', redis.url, '--name', name, '--model', MODEL, '--level', LEVEL, '--batch', '1', '--shard-size', String(shardSize), images]);
  assert.is(r.status, 0, r.stderr);
  return name;
}

/** The worker has the job's first shard in progress (taken and the model loaded: it is scoring). */
async function inProgress(name: string, w: WorkerProcess): Promise<void> {
  await until(`${name}.0 to be in progress`, async () => (await queue.getJobState(`${name}.0`)) === 'active', 60_000, 50);
  // Past the model load, into the GPU passes.
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(w.child.exitCode, null, w.log());
}

/** Sends `signal` and returns the exit code and the milliseconds until the process was gone. */
async function stopTimed(w: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
  const sent = Date.now();
  w.child.kill(signal);
  const code = await w.exited;
  const ms = Date.now() - sent;
  console.log(`  ${signal}: exited with ${code} after ${ms} ms`);
  return { code, ms };
}

function withinBound(ms: number, log: string): void {
  assert.ok(ms <= SHUTDOWN_MS + SLACK_MS, `exited ${ms} ms after SIGTERM (bound ${SHUTDOWN_MS + SLACK_MS} ms)\n${log}`);
}

async function drain(name: string): Promise<void> {
  await queue.remove(`${name}.0`).catch(() => {});
  await client.del(...Object.values(keys(name)));
}

test('Redis answering, worker idle: SIGTERM ends it at once with status 0', async () => {
  const w = worker();
  await started(w);
  await new Promise((r) => setTimeout(r, 500));
  const { code, ms } = await stopTimed(w);
  assert.is(code, 0, w.log());
  assert.ok(ms < SHUTDOWN_MS, `an idle worker took ${ms} ms to stop\n${w.log()}`);
});

test('Redis answering, a shard longer than --shutdown-ms in progress: given back to the queue, untouched, within the bound', async () => {
  const name = await submit();
  const w = worker();
  await inProgress(name, w);
  const before = await queue.getJob(`${name}.0`);
  const { code, ms } = await stopTimed(w);
  withinBound(ms, w.log());
  assert.is(code, 0, w.log());
  assert.match(w.log(), /1 shard still in progress: giving it back to the queue/);
  assert.is(await queue.getJobState(`${name}.0`), 'waiting', 'the shard is back on the queue for another worker');
  const after = await queue.getJob(`${name}.0`);
  assert.is(after!.attemptsMade, before!.attemptsMade, 'giving a shard back does not use up an attempt');
  assert.is(await client.hlen(keys(name).results), 0, 'no result from the stopped worker');
  await drain(name);
});

test('Redis answering, a short shard in progress: it finishes and is stored before the worker exits', async () => {
  const name = await submit(5);
  const w = worker();
  // Once the model is loaded (the first shard stored), a 5-input shard takes well under the window.
  await until(`${name}.0 to be stored`, async () => (await client.hexists(keys(name).results, '0')) === 1, 60_000, 20);
  await until(`${name}.1 or later to be in progress`, async () => (await queue.getActiveCount()) > 0, 10_000, 5);
  const { code, ms } = await stopTimed(w);
  withinBound(ms, w.log());
  assert.is(code, 0, w.log());
  assert.match(w.log(), /stopped: finished/);
  const stored = await client.hlen(keys(name).results);
  assert.is(await queue.getActiveCount(), 0, 'nothing left in progress');
  assert.is(await queue.getWaitingCount(), SLOW_SHARD / 5 - stored, `every shard not stored is waiting\n${w.log()}`);
  await client.del(...Object.values(keys(name)));
  await queue.obliterate({ force: true });
});

test('Redis paused (SIGSTOP) with a shard in progress: the worker still exits within the bound, status 1', async () => {
  const name = await submit();
  const w = worker();
  await inProgress(name, w);
  redis.pause();
  try {
    const { code, ms } = await stopTimed(w);
    withinBound(ms, w.log());
    assert.is(code, 1, w.log());
    assert.match(w.log(), /Redis did not confirm the release/);
  } finally {
    redis.resume();
  }
  await drain(name);
});

test('Redis killed, worker idle and worker mid-shard: each exits within the bound', async () => {
  const name = await submit();
  const busy = worker();
  await inProgress(name, busy);
  const idle = worker();
  await started(idle);
  await redis.kill();
  try {
    const [a, b] = await Promise.all([stopTimed(busy), stopTimed(idle)]);
    withinBound(a.ms, busy.log());
    withinBound(b.ms, idle.log());
    assert.is(a.code, 1, busy.log());
    assert.is(b.code, 0, idle.log());
  } finally {
    await redis.restart();
    client = await redis.client();
    await queue.close();
    queue = new Queue(QUEUE_NAME, { connection: client });
    queue.on('error', () => {});
  }
});

test('a second signal ends the worker at once (status 128 + signal)', async () => {
  await queue.obliterate({ force: true });
  const name = await submit();
  const w = worker();
  await inProgress(name, w);
  w.child.kill('SIGTERM');
  await until('the worker to begin stopping', async () => /stopping \(SIGTERM\)/.test(w.log()), 10_000, 20);
  const { code, ms } = await stopTimed(w, 'SIGINT');
  assert.is(code, 130, w.log());
  assert.ok(ms < SLACK_MS, `exited ${ms} ms after the second signal\n${w.log()}`);
  await drain(name);
});

suiteTest.run();
