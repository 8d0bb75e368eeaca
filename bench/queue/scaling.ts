// Queue throughput on this machine, in one run: `rcae detect` in one process, then the same inputs
// through `rcae queue` with 1 and with 2 workers, against a real redis-server. Reports inputs/s,
// the queue's cost per shard over the single process, and the Redis commands per shard (from
// INFO commandstats), which is what stays shared as workers are added.
// Usage: node dist/bench/queue/scaling.js [--inputs N] [--shard-size S] [--model M] [--json F]
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { startRedis } from '../../test/helpers/redis.js';
import { tempDir } from '../../test/helpers/paths.js';
import { makeDataset, rcaeAsync, startWorker, stopWorker, until } from '../../test/queue/support.js';
import { keys } from '../../src/queue/store.js';

const { values } = parseArgs({ options: { inputs: { type: 'string' }, 'shard-size': { type: 'string' }, model: { type: 'string' }, json: { type: 'string' } } });
const count = Number(values.inputs ?? 1000);
const shardSize = Number(values['shard-size'] ?? 100);
const modelArgs = values.model ? ['--model', values.model] : [];
const level = ['--level', '0.05'];

/** Redis commands run so far, leaving out this script's own polling (HLEN, HMGET, INFO). */
async function totalCommands(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].filter((m) => !['hlen', 'hmget', 'info'].includes(m[1])).reduce((n, m) => n + Number(m[2]), 0);
}

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t = performance.now();
  const value = await run();
  return { seconds: (performance.now() - t) / 1000, value };
}

const tmp = tempDir('rcae-queue-bench-');
const redis = await startRedis();
try {
  const inputs = await makeDataset(tmp, count, 1);
  const client = await redis.client();
  const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
  const loadBefore = load();

  // Fixed cost of a process (start, device, model, pipelines): detect over a single input.
  const one = await timed(() => rcaeAsync(['detect', ...modelArgs, ...level, '--format', 'jsonl', `${inputs[0]}/img-00000.png`]));
  const detect = await timed(() => rcaeAsync(['detect', ...modelArgs, ...level, '--format', 'jsonl', ...inputs]));
  if (detect.value.status !== 0) throw new Error(detect.value.stderr);
  const detectScoring = detect.seconds - one.seconds;

  const runQueue = async (name: string, workers: number) => {
    const before = await totalCommands(client);
    const s = await rcaeAsync(['queue', 'submit', '--redis', redis.url, '--name', name, ...modelArgs, ...level, '--shard-size', String(shardSize), ...inputs]);
    if (s.status !== 0) throw new Error(s.stderr);
    // Default locks (renewed every 15 s), one shard at a time per worker, like detect's single pipeline.
    const procs = Array.from({ length: workers }, () => startWorker(redis.url, ['--concurrency', '1', '--lock-duration', '30000', '--stalled-interval', '30000']));
    const shards = Math.ceil(count / shardSize);
    await until(`${name} done`, async () => (await client.hlen(keys(name).results)) === shards, 3_600_000, 500);
    const [started, last] = (await client.hmget(keys(name).job, 'startedAt', 'lastDoneAt')).map(Number);
    await Promise.all(procs.map(stopWorker));
    const commands = (await totalCommands(client)) - before;
    return { workers, seconds: (last - started) / 1000, inputsPerSecond: count / ((last - started) / 1000), shards, redisCommandsPerShard: commands / shards };
  };
  const q1 = await runQueue('bench-1', 1);
  const q2 = await runQueue('bench-2', 2);
  const result = {
    machine: `${cpus().length} x ${cpus()[0].model}`,
    adapter: 'lavapipe (Mesa, on the CPU)',
    model: values.model ?? 'bundled default (w=8)',
    inputs: count,
    shardSize,
    loadAverageBefore: loadBefore,
    loadAverageAfter: load(),
    detect: { seconds: detect.seconds, processStartSeconds: one.seconds, inputsPerSecond: count / detectScoring },
    queue: [q1, q2],
    overheadPerShardSeconds: (q1.seconds - detectScoring) / q1.shards,
    redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
} finally {
  await redis.stop();
  rmSync(tmp, { recursive: true, force: true });
}
