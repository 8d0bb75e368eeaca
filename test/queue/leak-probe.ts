// The measurements of leak.test.ts, in a process of its own (node --expose-gc): a real worker
// (startWorker, as `rcae worker` runs it) takes ROUNDS x PER_ROUND one-input shards, a job of
// PER_ROUND shards per round submitted, waited for and removed from this process; after each round,
// with the worker idle, two full GCs and a sample of RSS, V8 heap, external memory and the live GPU
// buffers of the worker's models. Prints one JSON line: the samples.
// Usage: node --expose-gc leak-probe.js REDIS_URL ROUNDS PER_ROUND [PLANT_BYTES]
// PLANT_BYTES > 0 keeps that many bytes per shard alive (a planted leak the test must catch).
import { rmSync } from 'node:fs';
import '../../src/node/node-platform.js';
import { sha256File } from '../../src/node/sha256.js';
import { connectClient } from '../../src/queue/connection.js';
import { cleanJob } from '../../src/queue/jobs.js';
import { JobStore } from '../../src/queue/store.js';
import { submitJob } from '../../src/queue/submit.js';
import { startWorker } from '../../src/queue/worker.js';
import type { MemorySample } from '../helpers/leak.js';
import { tempDir } from '../helpers/paths.js';
import { SEED } from '../helpers/random.js';
import { makeDataset, MODEL } from './support.js';

const [redisUrl, rounds, perRound, plant] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 0)];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const tmp = tempDir('rcae-leak-');
const [images] = await makeDataset(tmp, perRound + 6, SEED);
const redis = await connectClient(redisUrl);
const store = new JobStore(redis);
const modelSha256 = await sha256File(MODEL);
const worker = startWorker({
  redisUrl, modelOptions: {}, concurrency: 1, lockDurationMs: 30_000, stalledIntervalMs: 30_000, exitWhenIdle: false,
  shutdownMs: 5000, hashFile: (path) => sha256File(path), log: () => {},
});
const planted: Buffer[] = [];
const samples: MemorySample[] = [];
for (let round = 0; round < rounds; round++) {
  const { spec } = await submitJob(redis, {
    name: `leak-${round}`, inputs: [images], cwd: tmp, model: MODEL, modelSha256, shape: { channels: 3, size: 128 },
    level: '0.285', threshold: 0.285, shardSize: 1, batch: 1, attempts: 1, backoffMs: 1000,
  });
  while ((await store.settledCounts(spec.name)).done < spec.shardCount) await new Promise((r) => setTimeout(r, 20));
  await cleanJob(redis, spec.name, false);
  if (plant > 0) for (let i = 0; i < spec.shardCount; i++) planted.push(Buffer.alloc(plant, i));
  gc();
  gc();
  const { shards, liveGpuBuffers } = worker.stats();
  const m = process.memoryUsage();
  samples.push({ iteration: shards, values: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, gpuBuffers: liveGpuBuffers } });
}
worker.stop('done');
const end = await worker.ended;
redis.disconnect();
rmSync(tmp, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ end, planted: planted.length, samples }) + '\n');
process.exit(0);
