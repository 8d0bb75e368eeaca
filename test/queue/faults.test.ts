// The queue against a real redis-server and real worker processes: a worker SIGKILLed mid-shard,
// Redis killed and restarted (append-only file on), workers joining late, a job submitted twice.
// Each time `rcae queue collect` must give exactly the rows of one `rcae detect` over the same
// inputs: none missing, none twice, the same errors and labels.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { keys, QUEUE_NAME, type ShardResult } from '../../src/queue/store.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { SEED } from '../helpers/random.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';
import { jsonl, LEVEL, makeDataset, MODEL, rcaeAsync, startWorker, stopWorker, until, type DetectRow, type WorkerProcess } from './support.js';

const suiteTest = suite('queue faults');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });
const INPUTS = 2000;

let redis: RedisServer;
let client: Redis;
let tmp: string;
let inputs: string[];
let baseline: DetectRow[];
const workers: WorkerProcess[] = [];

const worker = (extra: string[] = []) => {
  const w = startWorker(redis.url, extra);
  workers.push(w);
  return w;
};
const doneShards = (name: string) => client.hlen(keys(name).results);
const submit = (name: string, args: string[] = inputs) =>
  rcaeAsync(['queue', 'submit', '--redis', redis.url, '--name', name, '--model', MODEL, '--level', LEVEL, '--shard-size', '100', ...args]);

async function collect(name: string, extra: string[] = []): Promise<DetectRow[]> {
  const out = join(tmp, `${name}.jsonl`);
  const r = await rcaeAsync(['queue', 'collect', '--redis', redis.url, '--wait', '--out', out, ...extra, name]);
  assert.is(r.status, 0, r.stderr);
  return jsonl(readFileSync(out, 'utf8'));
}

/** Exactly one row per input, in input order, matching single-process detect. */
function assertSameAsDetect(rows: DetectRow[], what: string): void {
  assert.is(rows.length, baseline.length, `${what}: one row per input`);
  assert.is(new Set(rows.map((r) => r.index)).size, rows.length, `${what}: no index twice`);
  rows.forEach((r, i) => {
    const d = baseline[i];
    assert.equal([r.input, r.index, r.threshold, r.label], [d.input, d.index, d.threshold, d.label], `${what}: row ${i}`);
    assert.ok(Math.abs(r.error - d.error) <= 1e-6, `${what}: row ${i} error ${r.error} vs ${d.error}`);
  });
}

async function storedBy(name: string): Promise<Map<number, string>> {
  const all = await client.hgetall(keys(name).results);
  return new Map(Object.entries(all).map(([k, v]) => [Number(k), (JSON.parse(v) as ShardResult).worker]));
}

suiteTest.before(async () => {
  if (missing) return;
  tmp = tempDir('rcae-queue-');
  inputs = await makeDataset(tmp, INPUTS, SEED);
  redis = await startRedis({ appendOnly: true });
  client = await redis.client();
  const d = await rcaeAsync(['detect', '--model', MODEL, '--level', LEVEL, '--format', 'jsonl', ...inputs]);
  assert.is(d.status, 0, d.stderr);
  baseline = jsonl(d.stdout);
});

suiteTest.after(async () => {
  await Promise.all(workers.map(stopWorker));
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('a worker SIGKILLed mid-shard: its shard is redone by another after the lock expires; late workers join', async () => {
  assert.is(baseline.length, INPUTS);
  const fake = baseline.filter((r) => r.label === 'FAKE').length;
  assert.ok(fake > INPUTS / 10 && fake < INPUTS * 0.9, `both labels occur (${fake} FAKE of ${INPUTS}, seed ${SEED})`);
  const s = await submit('kill');
  assert.is(s.status, 0, s.stderr);
  assert.is(s.stdout.trim(), 'kill');
  const queue = new Queue(QUEUE_NAME, { connection: client });
  const first = worker();
  // Shards the first worker holds and has not stored (between storing and BullMQ's completion a
  // shard is still active, though done).
  const unfinished = async () => {
    const active = (await queue.getActive()).filter((j) => j.name === 'kill').map((j) => Number(j.id!.split('.').at(-1)));
    const stored = await Promise.all(active.map((i) => client.hexists(keys('kill').results, String(i))));
    return active.filter((_, k) => stored[k] === 0);
  };
  await until('the first worker to finish 2 shards and be inside a third', async () => (await doneShards('kill')) >= 2 && (await unfinished()).length > 0);
  first.child.kill('SIGKILL');
  await first.exited;
  // What the dead worker held stays active, under its lock, until the lock expires.
  const inFlight = await unfinished();
  assert.ok(inFlight.length > 0, 'the worker was killed mid-shard');
  const killedId = `${hostname()}:${first.child.pid}`;
  const second = worker();
  let third: WorkerProcess | undefined;
  try {
    await until('6 shards done', async () => (await doneShards('kill')) >= 6);
    third = worker();
    const rows = await collect('kill');
    assertSameAsDetect(rows, 'after SIGKILL');
    const by = await storedBy('kill');
    assert.is(by.size, 20);
    for (const shard of inFlight) {
      assert.ok(by.get(shard) !== killedId && by.get(shard) !== undefined, `shard ${shard}, in progress when its worker was killed, was redone by another`);
    }
    const ids = new Set(by.values());
    assert.ok(ids.has(`${hostname()}:${second.child.pid}`) && ids.has(`${hostname()}:${third.child.pid}`), `both late workers stored shards: ${[...ids].join(', ')}`);
  } finally {
    await queue.close();
    await Promise.all([second, third].filter((w) => w !== undefined).map(stopWorker));
  }
});

test('the same job submitted twice is recognised, not queued again; its name with other inputs is refused', async () => {
  const again = await submit('kill');
  assert.is(again.status, 0, again.stderr);
  assert.is(again.stdout.trim(), 'kill');
  assert.match(again.stderr, /already submitted.*0 of 20 shards/);
  const queue = new Queue(QUEUE_NAME, { connection: client });
  assert.equal(await queue.getJobCounts('waiting', 'active', 'delayed'), { waiting: 0, active: 0, delayed: 0 });
  await queue.close();
  const other = await submit('kill', inputs.slice(1));
  assert.is(other.status, 1);
  assert.match(other.stderr, /job kill already exists with other inputs/);
  // Without --name the name is the content's hash: the same content gives the same job.
  const args = ['queue', 'submit', '--redis', redis.url, '--model', MODEL, '--level', LEVEL, inputs[1]];
  const [a, b] = [await rcaeAsync(args), await rcaeAsync(args)];
  assert.match(a.stdout.trim(), /^rcae-[0-9a-f]{12}$/);
  assert.is(b.stdout.trim(), a.stdout.trim());
  const c = await rcaeAsync(['queue', 'cancel', '--redis', redis.url, a.stdout.trim()]);
  assert.is(c.status, 0, c.stderr);
});

test('Redis killed and restarted mid-run (append-only file on): the job completes', async () => {
  const s = await submit('restart');
  assert.is(s.status, 0, s.stderr);
  const live = [worker(), worker()];
  try {
    await until('3 shards done', async () => (await doneShards('restart')) >= 3);
    const before = await doneShards('restart');
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1000));
    await redis.restart();
    assert.ok((await doneShards('restart')) >= before, 'results stored before the restart survive it');
    const rows = await collect('restart');
    assertSameAsDetect(rows, 'after a Redis restart');
    assert.is(await doneShards('restart'), 20);
    const st = await rcaeAsync(['queue', 'status', '--redis', redis.url, '--json', 'restart']);
    const status = JSON.parse(st.stdout);
    assert.equal([status.state, status.shards, status.inputs], ['finished', { total: 20, done: 20, active: 0, failed: 0, waiting: 0 }, { total: INPUTS, done: INPUTS, failed: 0 }]);
    assert.ok(status.inputsPerSecond > 0 && status.etaSeconds === undefined, st.stdout);
  } finally {
    await Promise.all(live.map(stopWorker));
  }
});

test('an unreadable image fails its row, not the shard; a shard that cannot be scored fails after its attempts, with the reason', async () => {
  const dir = join(tmp, 'mixed');
  mkdirSync(dir);
  const good = (await makeDataset(join(tmp, 'few'), 11, SEED + 1))[0];
  for (const n of [0, 1, 2, 3, 4]) copyFileSync(join(good, `img-0000${n}.png`), join(dir, `img-${n}.png`));
  writeFileSync(join(dir, 'img-2b.png'), 'not a png at all');
  // A model no worker has loaded yet (workers keep models by content hash), replaced after submit.
  const model = join(tmp, 'model-copy.ckpt');
  copyFileSync(fixture('model', 'w8', 'model-published.ckpt'), model);
  const rows = await rcaeAsync(['queue', 'submit', '--redis', redis.url, '--name', 'rows', '--model', MODEL, '--level', LEVEL, '--shard-size', '4', dir]);
  assert.is(rows.status, 0, rows.stderr);
  const bad = await rcaeAsync(['queue', 'submit', '--redis', redis.url, '--name', 'bad-model', '--model', model, '--level', LEVEL, '--shard-size', '4', '--attempts', '2', '--backoff-ms', '100', dir]);
  assert.is(bad.status, 0, bad.stderr);
  copyFileSync(MODEL, model);
  // --all-adapters: one worker process per adapter (lavapipe alone here), under a supervisor.
  const w = worker(['--exit-when-idle', '--all-adapters']);
  assert.is(await w.exited, 0, w.log());
  assert.match(w.log(), /rcae worker: one worker per adapter: 0: /);
  assert.ok(/bad-model shard 0: attempt 2 of 2 failed: .*not the model the job was submitted with/.test(w.log()), w.log());

  const csv = join(tmp, 'rows.csv');
  const r = await rcaeAsync(['queue', 'collect', '--redis', redis.url, '--out', csv, 'rows']);
  assert.is(r.status, 0, r.stderr);
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  assert.is(lines[0], 'input,index,error,threshold,label,reason');
  assert.is(lines.length, 7);
  const broken = lines.findIndex((l) => l.includes('img-2b.png'));
  assert.is(broken, 4, 'rows stay in input order');
  assert.match(lines[broken], /,FAILED,.*img-2b\.png/);
  assert.ok(lines.filter((l) => /,(REAL|FAKE),$/.test(l)).length === 5, 'the other five rows are scored');

  const status = JSON.parse((await rcaeAsync(['queue', 'status', '--redis', redis.url, '--json', 'bad-model'])).stdout);
  assert.equal([status.state, status.shards.failed, status.shards.done], ['finished', 2, 0]);
  const failed = await collect('bad-model', ['--format', 'jsonl']);
  assert.is(failed.length, 6);
  assert.ok(failed.every((x) => x.label === 'FAILED' && /not the model the job was submitted with/.test((x as unknown as { reason: string }).reason)));
});

test('cancel takes queued shards off the queue; clean removes every key of a job', async () => {
  const s = await submit('cancel-me');
  assert.is(s.status, 0, s.stderr);
  const queue = new Queue(QUEUE_NAME, { connection: client });
  assert.is((await queue.getWaiting()).filter((j) => j.name === 'cancel-me').length, 20);
  const c = await rcaeAsync(['queue', 'cancel', '--redis', redis.url, 'cancel-me']);
  assert.is(c.status, 0, c.stderr);
  assert.match(c.stderr, /20 queued shards removed/);
  assert.is((await queue.getWaiting()).filter((j) => j.name === 'cancel-me').length, 0);
  const st = await rcaeAsync(['queue', 'status', '--redis', redis.url, 'cancel-me']);
  assert.match(st.stdout, /job cancel-me: cancelled/);
  for (const name of ['cancel-me', 'kill', 'restart', 'rows', 'bad-model']) {
    const r = await rcaeAsync(['queue', 'clean', '--redis', redis.url, name]);
    assert.is(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(await client.keys(`rcae:{${name}}:*`), [], name);
    assert.equal((await client.keys(`bull:${QUEUE_NAME}:${name}.*`)), [], `${name}: BullMQ jobs`);
  }
  const gone = await rcaeAsync(['queue', 'status', '--redis', redis.url, 'kill']);
  assert.is(gone.status, 1);
  assert.match(gone.stderr, /no job named kill/);
  await queue.close();
});

suiteTest.run();
