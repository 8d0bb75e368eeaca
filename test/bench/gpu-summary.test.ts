// summary.md of a GPU run, from result folders written here the way run-on-gpu.sh's steps write them:
// the throughput table with the PyTorch ratios, the five slowest layers per precision, fallbacks when
// rcae reports them (and nothing when it does not), chunking, tuning, steps, and what it does with
// missing and broken files. The real files come from the protocol's dry run (gpu-bundle.test.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readResults } from '../../bench/gpu/results.js';
import { renderSummary } from '../../bench/gpu/summary.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

const test = suite('gpu summary');
let root = '';
test.before(() => {
  root = tempDir('rcae-summary-');
});
test.after(() => rmSync(root, { recursive: true, force: true }));

interface BenchOptions {
  precision: 'f32' | 'f16';
  batches: { batch: number; gpu?: number; e2e: number; chunks: number }[];
  profile?: { batch: number; ms: number[] };
  fallbacks?: { variant: string; to: string; reason: string }[];
  maxChunk?: number;
}

function bench(o: BenchOptions) {
  const runs = o.batches.flatMap((b) => [
    { engine: 'rcae', batch: b.batch, timing: 'end-to-end', samples_per_s: b.e2e, chunks: b.chunks, outputs_match: true, max_abs_diff: 1e-6 },
    ...(b.gpu === undefined ? [] : [{ engine: 'rcae', batch: b.batch, timing: 'gpu', samples_per_s: b.gpu, chunks: 1, outputs_match: null }]),
  ]);
  const rows = (o.profile?.ms ?? []).map((ms, i) => ({ name: `layer${i}`, shape: `${o.profile!.batch}x64x64x64`, kernel: `fma ${o.precision} fma 128x64x16 t8x4 k1 (heuristic) #${i}`, gflop: 1, ms, gflops: 1000 / ms, pct_of_total: ms }));
  return {
    date: `2026-12-01T00:00:0${o.precision === 'f32' ? 1 : 2}.000Z`,
    machine: { cpu: 'x', cores: 16, memory_gib: 128, platform: 'linux-x64' },
    adapter: { vendor: 'nvidia', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA H100 80GB HBM3', backend: 'vulkan', timestamp_quantization: 'off' },
    versions: { rcae: '0.1.0', node: 'v20.20.2' },
    commit: 'abc1234',
    model: { source: 'reference w=64, seeded random weights (seed 0)', base_width: 64, parameters: 1, gflop_per_sample: 6.778, precision: o.precision, variant: 'fma', tuned_layers: 0 },
    peak_gflops: 1,
    peak_method: 'x',
    chunking: { max_chunk: o.maxChunk ?? 1204, limited_by: 'activation budget', reason: 'the 4096.0 MiB activation budget (GPU: twice the binding limit) holds 1204 samples of 3.4 MiB', per_sample_bytes: 1, largest_value_bytes: 1, binding_limit_bytes: 1, budget_bytes: 1 },
    runs,
    layers: o.profile ? { batch: o.profile.batch, method: 'timestamp queries around each dispatch', rows } : null,
    ...(o.fallbacks ? { fallbacks: o.fallbacks } : {}),
  };
}

const torch = {
  device: 'NVIDIA H100 80GB HBM3', device_type: 'cuda', torch: '2.11.0', cuda: '13.0', cudnn: 91000,
  runs: [
    ['fp32', 256, 5000], ['tf32', 256, 12000], ['fp16_autocast', 256, 20000], ['channels_last_fp16_autocast', 256, 30000],
    ['fp32', 1024, 5200], ['tf32', 1024, 12500], ['fp16_autocast', 1024, 21000],
  ].map(([variant, batch, samples_per_s]) => ({ variant, batch, samples_per_s })),
  skipped: [],
};

const steps = ['adapters (root loader)\tok\t2\t15\t', 'vulkan loader\tok\t0\t0\troot: Dawn lists an adapter matching \'nvidia\'', 'bench f32\tok\t31\t70\t', 'bench f16\tok\t35\t70\t',
  'torch baseline\tok\t60\t90\t', 'bench f32 big\tok\t30\t45\t', 'bench f16 big\ttimed out\t45\t45\t', 'tune f32\tok\t35\t45\t', 'tune f16\tfailed\t3\t45\texit status 1'].join('\n') + '\n';

function folder(name: string, files: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

const f32Profile = { batch: 256, ms: [0.9, 5.5, 0.1, 4.4, 3.3, 2.2, 1.1] };

test('a full run: the paste-ready table, ratios, targets, slowest layers, fallbacks, chunking, tuning, steps', () => {
  const dir = folder('full', {
    'steps.tsv': steps,
    'nvidia-smi.txt': 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\n| NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: 13.0 |\n',
    'rcae-info.json': { adapter: { vendor: 'nvidia', device: 'NVIDIA H100 80GB HBM3', backend: 'vulkan' }, toggles: ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'], fragment: { m: 16, n: 16, k: 16 } },
    'rcae-bench-f32.json': bench({ precision: 'f32', batches: [{ batch: 256, gpu: 4000, e2e: 3500, chunks: 1 }], profile: f32Profile }),
    'rcae-bench-f16.json': bench({ precision: 'f16', batches: [{ batch: 256, gpu: 11000, e2e: 8000, chunks: 1 }], profile: { batch: 256, ms: [1, 2, 3, 4, 5, 6] }, fallbacks: [{ variant: 'matrix f16', to: 'fma f16', reason: "error: 'subgroupMatrixStore' requires | argument 1\n to be uniform" }] }),
    'rcae-bench-f32-big.json': bench({ precision: 'f32', batches: [{ batch: 1024, e2e: 3000, chunks: 2 }], maxChunk: 600, fallbacks: [] }),
    'tune-f32.json': { precision: 'f32', batch: 256, timing: { method: 'timestamp queries', floor_ms: 2, samples: 3, timestamp_quantization: 'off' }, layers: [{ layer: 'a', ms: 1, heuristic: { ms: 1.5 } }], untuned: ['b'], total_ms: 1, heuristic_total_ms: 1.5 },
    'tune-f16.json': { precision: 'f16', batch: 256, layers: [], total_ms: 0, heuristic_total_ms: 0, fallbacks: [{ variant: 'matrix f16 64x64x32', to: 'fma f16', reason: 'pipeline creation failed' }] },
    'torch-baseline.json': torch,
  });
  const text = renderSummary(readResults(dir));
  assert.match(text, /^# rcae GPU run: 2026-12-01T00:00:01\.000Z$/m);
  assert.match(text, /^Device: NVIDIA H100 80GB HBM3, driver 580\.159\.04; Dawn adapter nvidia NVIDIA H100 80GB HBM3 \(vulkan\); subgroup-matrix fragment 16x16x16; toggles allow_unsafe_apis, vulkan_enable_f16_on_nvidia\.$/m);
  assert.match(text, /^PyTorch 2\.11\.0 on NVIDIA H100 80GB HBM3 \(cuda, CUDA 13\.0, cuDNN 91000\)\.$/m);
  // GPU-only figures where measured; the chunked 1024 row falls back to end-to-end and says so.
  assert.ok(text.includes('| 256 | 4,000 | 11,000 | 5,000 | 12,000 | 20,000 | 30,000 (channels_last_fp16_autocast) | 0.80x | 0.55x |'), text);
  assert.ok(text.includes('| 1024 | 3,000 (end-to-end, 2 chunks) | - | 5,200 | 12,500 | 21,000 | 21,000 (fp16_autocast) | 0.58x | - |'), text);
  assert.ok(text.includes('| 256 | 3,500 | 1 | matches | 8,000 | 1 | matches |'));
  assert.match(text, /Targets at batch 256: f32 4,000 \(target 3,600 and >= 1\.0x PyTorch fp32: 0\.80x\) not met; f16 11,000 \(target 10,000 and >= 1\.0x PyTorch fp16 autocast: 0\.55x\) not met\./);
  // The five slowest, slowest first, with kernel and tile.
  const f32Rows = text.split('f32, batch 256 (timestamp queries around each dispatch; timestamp quantization off):')[1].split('\n\n')[1].split('\n').slice(2);
  assert.equal(f32Rows.map((l) => l.split(' | ')[3]), ['5.500', '4.400', '3.300', '2.200', '1.100']);
  assert.match(f32Rows[0], /^\| layer1 \| 256x64x64x64 \| fma f32 fma 128x64x16 t8x4 k1 \(heuristic\) #1 \| 5\.500 \|/);
  assert.match(text, /f16, batch 256 \(timestamp queries around each dispatch; timestamp quantization off\):\n\n\| layer \|[^\n]*\n[^\n]*\n\| layer5 \|/);
  assert.ok(text.includes("| f16 | matrix f16 | fma f16 | error: 'subgroupMatrixStore' requires \\| argument 1 to be uniform |"), 'the fallback, one line, pipes escaped');
  assert.ok(text.includes('| f16 (rcae tune) | matrix f16 64x64x32 | fma f16 | pipeline creation failed |'), 'a fallback tune reports');
  assert.match(text, /- f32, batch 1024: at most 600 samples per command buffer, set by the 4096\.0 MiB activation budget .*; batch 1024 ran in 2 chunks/);
  assert.ok(text.includes('| f32 | 256 | 1 | 1 | 1.000 | 1.500 | 1.50x | timestamp queries, samples >= 2 ms, quantization off |'));
  assert.ok(text.includes('| bench f16 big | timed out | 45 | 45 |  |'));
  assert.match(text, /^9 steps, 241 s spent, 425 s of limits among those that ran\.$/m);
  assert.not.match(text, /Problems reading/);
});

test('fallbacks: "none" when reported empty, no section when no bench reports them', () => {
  const f32 = bench({ precision: 'f32', batches: [{ batch: 8, gpu: 50, e2e: 40, chunks: 1 }] });
  const empty = renderSummary(readResults(folder('empty-fallbacks', { 'rcae-bench-f32.json': { ...f32, fallbacks: [] } })));
  assert.match(empty, /## Fallbacks\n\nNone: every kernel variant compiled and ran\./);
  const absent = renderSummary(readResults(folder('no-fallbacks', { 'rcae-bench-f32.json': f32 })));
  assert.not.match(absent, /Fallbacks/);
  // Small figures keep two decimals; missing PyTorch columns and ratios are dashes.
  assert.ok(absent.includes('| 8 | 50.00 | - | - | - | - | - | - | - |'), absent);
});

test('no PyTorch, a broken file and no profile: said in the summary, the rest still rendered', () => {
  const dir = folder('partial', {
    'steps.tsv': "torch baseline\tskipped\t0\t0\tpython3 cannot import torch\nbad line\n",
    'rcae-bench-f32.json': bench({ precision: 'f32', batches: [{ batch: 2, gpu: 3.5, e2e: 2.25, chunks: 1 }] }),
    'rcae-bench-f16.json': '{"model": {"precision": "f16"}, "runs": [',
  });
  const text = renderSummary(readResults(dir));
  assert.ok(text.includes('| 2 | 3.50 | - | - | - | - | - | - | - |'));
  assert.match(text, /PyTorch: no results \(skipped: python3 cannot import torch\)\./);
  assert.match(text, /- rcae-bench-f16\.json: unreadable JSON/);
  assert.match(text, /- steps\.tsv line 2: cannot read 'bad line'/);
  assert.match(text, /f32: no per-layer profile\.\n+f16: no per-layer profile\./);
  assert.match(text, /Targets at batch 256: f32: not measured; f16: not measured\./);
});

test('the command line: writes --out, refuses a bad call with status 2', () => {
  const dir = folder('cli', { 'rcae-bench-f32.json': bench({ precision: 'f32', batches: [{ batch: 4, gpu: 9, e2e: 8, chunks: 1 }] }) });
  const script = join(repoRoot, 'dist', 'bench', 'gpu', 'summary.js');
  const out = join(dir, 'summary.md');
  const ok = spawnSync(process.execPath, [script, dir, '--out', out], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  assert.is(readFileSync(out, 'utf8'), renderSummary(readResults(dir)));
  const bad = spawnSync(process.execPath, [script, dir, '--bogus'], { encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /^usage: node dist\/bench\/gpu\/summary\.js RESULTS_DIR \[--out FILE\]$/m);
});

test.run();
