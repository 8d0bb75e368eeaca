// No growth per shard in a worker: a fresh process (leak-probe.ts) runs a real worker through
// ROUNDS x PER_ROUND one-input shards against a real redis-server, sampling RSS, V8 heap, external
// memory and live GPU buffers after each round with the worker idle and after two full GCs. The
// verdict is the least-squares slope over the second half of the run, in bytes per shard, against
// the bounds below; the GPU buffer count must not move at all.
//
// The bounds, from the probe's samples on this project's 2-core VM (bench/NOTES.md, issue 19):
// over the second half of 2,000 shards, clean runs gave heap slopes of +95 to +227 B/shard (the
// tail of the warm-up: over 5,000 shards the heap settles near 1,500) with a standard error of
// 45-80 B/shard (residual sd 60-110 KB over 21 samples 50 shards apart), external and array-buffer
// slopes of exactly 0, and RSS slopes within ±10 KiB/shard (residual sd 6-9 MB: the allocators,
// not a trend). Each bound is about the largest clean slope plus four standard errors, and below
// what a leak of 1 KiB per shard adds to its metric, which `npm run mutate` plants in the worker
// (tools/mutants.mjs) and this test catches. RSS cannot resolve 1 KiB/shard in a run this long;
// its bound catches a kept input (196 KB per 128x128 sample).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeVerdicts, leakVerdicts, type MemorySample } from '../helpers/leak.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';

const suiteTest = suite('queue leak');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });
const ROUNDS = 40;
const PER_ROUND = 50;
/** Bytes per shard over the second half. */
const BOUNDS = { heapUsed: 512, external: 64, arrayBuffers: 64, rss: 32 << 10 };
const LEAK_PER_SHARD = 1024;

let redis: RedisServer;

suiteTest.before(async () => {
  if (missing) return;
  redis = await startRedis();
});

suiteTest.after(async () => {
  await redis?.stop();
});

function probe(): { end: string; samples: MemorySample[] } {
  const script = fileURLToPath(new URL('./leak-probe.js', import.meta.url));
  const out = execFileSync(process.execPath, ['--expose-gc', script, redis.url, String(ROUNDS), String(PER_ROUND)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

test(`${ROUNDS * PER_ROUND} shards through one worker: slopes within bounds over the second half, GPU buffers exact`, () => {
  const { end, samples } = probe();
  assert.is(end, 'finished');
  assert.is(samples.length, ROUNDS);
  assert.is(samples.at(-1)!.iteration, ROUNDS * PER_ROUND, 'every shard was taken by the worker');
  const gpu = samples.map((s) => s.values.gpuBuffers);
  assert.ok(gpu[0] > 0, 'the model holds GPU buffers');
  assert.equal(gpu, new Array(ROUNDS).fill(gpu[0]), 'live GPU buffers do not move');
  const verdicts = leakVerdicts(samples, BOUNDS);
  console.log(`  bytes per shard: ${describeVerdicts(verdicts)}; ${gpu[0]} GPU buffers throughout`);
  assert.ok(verdicts.every((v) => v.ok), describeVerdicts(verdicts));
  // The same samples with 1 KiB more per shard in any one metric must fail: the bounds can see it.
  for (const metric of ['heapUsed', 'external', 'arrayBuffers'] as const) {
    const planted = samples.map((s) => ({ iteration: s.iteration, values: { ...s.values, [metric]: s.values[metric] + LEAK_PER_SHARD * s.iteration } }));
    assert.not.ok(leakVerdicts(planted, BOUNDS).every((v) => v.ok), `1 KiB per shard in ${metric} would pass`);
  }
});

suiteTest.run();
