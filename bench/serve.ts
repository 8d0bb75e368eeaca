// `rcae serve` throughput on this machine, in one run: requests/s, p50/p99 latency and mean batch
// size at concurrency 1, 8 and 64 (closed loop: each client sends its next image when the last is
// answered), against sequential single-image calls on the same model in this process (decode +
// one forward pass each) and against `rcae bench` end-to-end at batch 1 and 64 on the same model.
// Usage: node dist/bench/serve.js [--seconds S] [--model M] [--json F] [--markdown F]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadImageTensor } from '../src/image/preprocess.js';
import { loadModel } from '../src/model.js';
import { DEFAULT_MODEL_PATH } from '../src/node/node-platform.js';
import { repoRoot, tempDir } from '../test/helpers/paths.js';
import { bytes, distinctPngs, startServe } from '../test/serve/support.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, model: { type: 'string' }, json: { type: 'string' }, markdown: { type: 'string' } } });
const seconds = Number(values.seconds ?? 15);
const modelPath = values.model ?? DEFAULT_MODEL_PATH;
const CONCURRENCY = [1, 8, 64];
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function batchTotals(metrics: string): { sum: number; count: number } {
  const read = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  return { sum: read('rcae_batch_size_sum'), count: read('rcae_batch_size_count') };
}

// 64 distinct PNGs of 48 to 207 pixels a side (thumbnails), so concurrent clients send different images.
const pngs = (await distinctPngs(64, 1)).map(bytes);
const loadBefore = load();

// 1. rcae bench on the same model, end-to-end (upload + forward + readback).
const benchJson = join(tempDir('rcae-serve-bench-'), 'bench.json');
execFileSync(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'bench', '--model', modelPath, '--batch', '1,64', '--no-profile', '--json', benchJson], { stdio: ['ignore', 'ignore', 'inherit'] });
const benchRuns = (JSON.parse(readFileSync(benchJson, 'utf8')) as { runs: { engine: string; batch: number; timing: string; samples_per_s: number }[] }).runs;
const benchAt = (batch: number) => benchRuns.find((r) => r.engine === 'rcae' && r.timing === 'end-to-end' && r.batch === batch)!.samples_per_s;

// 2. Sequential single-image calls in this process: decode + forward, one at a time.
const model = await loadModel(modelPath);
const latencies: number[] = [];
const sequentialEnd = performance.now() + seconds * 1000;
for (let i = 0; performance.now() < sequentialEnd; i++) {
  const t = performance.now();
  await model.reconstructionError(await loadImageTensor(Buffer.from(pngs[i % pngs.length])));
  latencies.push(performance.now() - t);
}
model.dispose();
const sequentialSeconds = latencies.reduce((a, b) => a + b, 0) / 1000;
latencies.sort((a, b) => a - b);
const sequential = { requests: latencies.length, per_s: latencies.length / sequentialSeconds, p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99) };

// 3. The service, closed-loop clients at each concurrency.
const server = await startServe(['--model', modelPath, '--max-batch', '64', '--max-queue', '1024']);
const levels = [];
try {
  for (const concurrency of CONCURRENCY) {
    const before = batchTotals(await (await fetch(`${server.url}/metrics`)).text());
    const times: number[] = [];
    let errors = 0;
    const started = performance.now();
    const end = started + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async (_, c) => {
      for (let i = c; performance.now() < end; i += concurrency) {
        const t = performance.now();
        const res = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: pngs[i % pngs.length] });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        times.push(performance.now() - t);
      }
    }));
    const elapsed = (performance.now() - started) / 1000;
    const after = batchTotals(await (await fetch(`${server.url}/metrics`)).text());
    times.sort((a, b) => a - b);
    const row = {
      concurrency, requests: times.length, errors, per_s: times.length / elapsed, p50_ms: percentile(times, 50), p99_ms: percentile(times, 99),
      mean_batch: (after.sum - before.sum) / (after.count - before.count),
    };
    levels.push(row);
    process.stderr.write(`concurrency ${concurrency}: ${row.per_s.toFixed(1)} req/s, p50 ${row.p50_ms.toFixed(0)} ms, p99 ${row.p99_ms.toFixed(0)} ms, mean batch ${row.mean_batch.toFixed(1)}\n`);
  }
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
}

const result = {
  date: new Date().toISOString(),
  machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`,
  load_average: { before: loadBefore, after: load() },
  model: relative(repoRoot, modelPath) || modelPath,
  seconds_per_level: seconds,
  rcae_bench_end_to_end: { batch_1: benchAt(1), batch_64: benchAt(64) },
  sequential_single_calls: sequential,
  serve: levels,
  serve_64_vs_bench_64: levels.find((l) => l.concurrency === 64)!.per_s / benchAt(64),
};
const table = [
  '| run | requests/s | p50 ms | p99 ms | mean batch |',
  '| --- | ---: | ---: | ---: | ---: |',
  `| \`rcae bench\` end-to-end, batch 1 (no HTTP, no decoding) | ${benchAt(1).toFixed(1)} | | | 1 |`,
  `| \`rcae bench\` end-to-end, batch 64 (no HTTP, no decoding) | ${benchAt(64).toFixed(1)} | | | 64 |`,
  `| sequential single-image calls in-process (decode + forward) | ${sequential.per_s.toFixed(1)} | ${sequential.p50_ms.toFixed(1)} | ${sequential.p99_ms.toFixed(1)} | 1 |`,
  ...levels.map((l) => `| \`rcae serve\`, concurrency ${l.concurrency} | ${l.per_s.toFixed(1)} | ${l.p50_ms.toFixed(1)} | ${l.p99_ms.toFixed(1)} | ${l.mean_batch.toFixed(1)} |`),
].join('\n');
const markdown = `## rcae serve — ${result.model}\n\n${result.machine}; ${result.date}; load average ${result.load_average.before} before, ${result.load_average.after} after; ${seconds} s per row.\n\n${table}\n\nServer at concurrency 64 / \`rcae bench\` batch 64: ${(100 * result.serve_64_vs_bench_64).toFixed(0)}%.\n`;
process.stdout.write(markdown);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
if (values.markdown) writeFileSync(values.markdown, markdown);
