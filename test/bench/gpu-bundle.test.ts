// The GPU run bundle (bench/gpu/): built for real with the fast xz level 0 (it compresses less than the
// default level 6, 39.8 against 32.7 MiB, so its size bounds the real one), its contents checked, then unpacked and run on this machine
// exactly as on a GPU machine except for the driver and the sizes: the bundled node, node_modules and
// Vulkan loader with lavapipe's ICD running `rcae info` and a width-2 `rcae bench`, and the PyTorch
// baseline on the CPU.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parameterCount, referenceArchitecture } from '../../src/graph/architecture.js';
import { buildPlan, planFlops } from '../../src/graph/plan.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { requires } from '../helpers/skip.js';
import { python as torchPython, pythonEnv, torchMissing } from '../helpers/torch.js';

const bundle = suite('gpu bundle');
const MiB = 1024 * 1024;
const lavapipeIcd = '/usr/share/vulkan/icd.d/lvp_icd.json';
const debCache = join(repoRoot, '.cache', 'gpu-bundle', 'debs');

const sh = (command: string, env: NodeJS.ProcessEnv = {}, cwd = repoRoot): SpawnSyncReturns<string> =>
  spawnSync('bash', ['-c', command], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * MiB });
const has = (tool: string) => sh(`command -v ${tool}`).status === 0;
const tail = (r: SpawnSyncReturns<string>) => `status ${r.status}\n${(r.stdout + r.stderr).slice(-3000)}`;

const missing = ['xz', 'tar', 'ldd', 'dpkg-deb', 'npm'].filter((t) => !has(t));
if (!existsSync(debCache) && !has('apt-get')) missing.push('apt-get (or cached .debs in .cache/gpu-bundle/debs)');
const skipReason = missing.length > 0 ? `needs ${missing.join(', ')}` : null;

const torchEnv: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: pythonEnv.OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE: pythonEnv.OPENBLAS_L2_SIZE };
const hasTorch = torchMissing === null;

let work = '';
let archive = '';

bundle.before(() => {
  work = tempDir('rcae-bundle-test-');
  archive = join(work, 'out', 'rcae-gpu-bundle.tar.xz');
});
bundle.after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

requires(bundle, skipReason, { ci: true })('make-bundle.sh: linux-x64 only, production packages only, Vulkan loader .debs, under 64 MiB', () => {
  const built = sh(`bash bench/gpu/make-bundle.sh --no-build --xz-level 0 --out '${join(work, 'out')}'`);
  assert.is(built.status, 0, tail(built));
  const size = Number(sh(`stat -c %s '${archive}'`).stdout);
  assert.ok(size > 8 * MiB && size < 64 * MiB, `archive is ${size} bytes`);
  assert.match(built.stdout, /rcae-gpu-bundle\.tar\.xz: \d+ bytes/);

  const listing = sh(`tar -tvJf '${archive}'`);
  assert.is(listing.status, 0, tail(listing));
  const entries = new Map(listing.stdout.trim().split('\n').map((line) => {
    const f = line.trim().split(/\s+/);
    return [f.slice(5).join(' ').replace(/^rcae-gpu-bundle\//, ''), { mode: f[0], bytes: Number(f[2]) }] as const;
  }));
  for (const path of ['node', 'package.json', 'bin/rcae.js', 'dist/src/cli/main.js', 'dist/bench/harness.js', 'BUNDLE.txt',
    'node_modules/webgpu/index.js', 'node_modules/webgpu/dist/linux-x64/dawn.node', 'node_modules/sharp/package.json',
    'node_modules/tinybench/package.json', 'tools/rcae_model.py', 'bench/gpu/torch_baseline.py', 'bench/gpu/README.md']) {
    assert.ok(entries.has(path), `${path} is in the bundle`);
  }
  assert.ok([...entries.keys()].some((p) => /^node_modules\/@img\/sharp-linux-x64\/lib\/sharp-linux-x64.*\.node$/.test(p)), 'sharp linux-x64 binding');
  assert.ok([...entries.keys()].some((p) => p.startsWith('node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so')), 'libvips');
  assert.match(entries.get('node')!.mode, /^-rwx/);
  assert.match(entries.get('bench/gpu/run-on-gpu.sh')?.mode ?? '', /^-rwx/);
  for (const pkg of ['libvulkan1', 'libglvnd0']) {
    assert.ok([...entries.keys()].some((p) => new RegExp(`^vulkan-debs/${pkg}_[^/]+_amd64\\.deb$`).test(p)), `${pkg} .deb`);
  }
  const pruned = [...entries.keys()].filter((p) =>
    /^node_modules\/webgpu\/dist\/(?!linux-x64)[^/]+\//.test(p) || /^node_modules\/@img\/sharp-(?!(libvips-)?linux-x64)/.test(p) ||
    /^node_modules\/(typescript|uvu|onnxruntime-[^/]+|@tensorflow|@types)\//.test(p) || p.startsWith('dist/test/'));
  assert.equal(pruned, [], 'other platforms, dev-only packages and compiled tests are left out');

  const header = sh(`tar -xJOf '${archive}' rcae-gpu-bundle/node | head -c 20 | od -An -tx1 | tr -d ' \\n'`);
  assert.is(header.stdout.slice(0, 10), '7f454c4602', 'a 64-bit ELF file');
  assert.is(header.stdout.slice(36, 40), '3e00', 'machine x86-64');
  const manifest = sh(`tar -xJOf '${archive}' rcae-gpu-bundle/BUNDLE.txt`).stdout;
  assert.match(manifest, /^node: v\d+\.\d+\.\d+/m);
  assert.match(manifest, /^\d+ node_modules\/webgpu\/dist\/linux-x64\/dawn\.node$/m);
});

const runMissing = skipReason ?? (existsSync(lavapipeIcd) ? null : `no lavapipe ICD at ${lavapipeIcd}`);
let out = '';

requires(bundle, runMissing, { ci: true })('run-on-gpu.sh from the unpacked bundle: bundled loader, rcae info, rcae bench', () => {
  assert.ok(existsSync(archive), 'the bundle build did not succeed');
  const unpacked = sh(`tar -xJf '${archive}' -C '${work}'`);
  assert.is(unpacked.status, 0, tail(unpacked));
  out = join(work, 'results');
  const steps = hasTorch ? 'info tune rcae torch' : 'info tune rcae';
  // LD_DEBUG=libs makes the dynamic linker say which libvulkan.so.1 it loaded; only run.log sees it.
  const run = sh(`bash rcae-gpu-bundle/bench/gpu/run-on-gpu.sh --loader private ${steps}`, {
    OUT: out, VK_DRIVER_FILES: lavapipeIcd, LD_DEBUG: 'libs', NODE_PATH: undefined,
    // f32 only (lavapipe compiles f16 kernels slowly); the GEMM 'tile' variant, so the tuned tiles are used.
    RCAE_PRECISIONS: 'f32', RCAE_TUNE_BATCH: '2', RCAE_TUNE_ARGS: '--width 2 --variant tile --candidates 1',
    RCAE_BATCHES: '1,2', RCAE_BENCH_ARGS: '--width 2 --variant tile --time 0 --iterations 1 --no-profile',
    PYTHON: torchPython, ...torchEnv, TORCH_BATCHES: '1,2', TORCH_ARGS: '--device cpu --width 2 --iterations 2 --warmup 1',
  }, work);
  const log = readFileSync(join(out, 'run.log'), 'utf8');
  assert.is(run.status, 0, log.split('\n').filter((l) => !/^\s*\d+:/.test(l)).join('\n').slice(-3000));
  assert.match(log, /Vulkan loader: unpacked into \S+rcae-vulkan\.\S+ \(LD_LIBRARY_PATH\)/);
  assert.match(log, /calling init: \S*rcae-vulkan\.[^/]+\/usr\/lib\/x86_64-linux-gnu\/libvulkan\.so\.1/);
  const info = readFileSync(join(out, 'rcae-info.txt'), 'utf8');
  assert.match(info, /vulkan/i);
  assert.match(info, /llvmpipe|lavapipe/i);
  const info2 = JSON.parse(readFileSync(join(out, 'rcae-info.json'), 'utf8'));
  assert.ok(Array.isArray(info2.subgroupMatrixConfigs) && info2.limits.maxComputeWorkgroupStorageSize > 0, 'rcae info --json reports subgroup-matrix configs and limits');
  const tuned = JSON.parse(readFileSync(join(out, 'tune-f32.json'), 'utf8'));
  assert.ok(tuned.layers.length > 10 && tuned.layers.every((l: { ms: number }) => l.ms > 0), 'rcae tune timed every layer');
  const bench = JSON.parse(readFileSync(join(out, 'rcae-bench-f32.json'), 'utf8'));
  assert.is(bench.model.variant, 'tile');
  // Every conv and linear node (not the statistics after the decoder) found its tile in the run's own tuning cache.
  assert.is(bench.model.tuned_layers, buildPlan(referenceArchitecture(2)).nodes.filter((n) => n.kind === 'conv' || n.kind === 'linear').length);
  assert.equal([...new Set(bench.runs.map((r: { batch: number }) => r.batch))].sort(), [1, 2]);
  assert.ok(bench.runs.every((r: { samples_per_s: number }) => r.samples_per_s > 0), 'every rcae run has a throughput');
  // A fast kernel that computes the wrong thing must fail here: every end-to-end row checks sample 0
  // against the float64 CPU reference.
  const checked = bench.runs.filter((r: { timing: string }) => r.timing === 'end-to-end');
  assert.is(checked.length, 2);
  for (const r of checked) assert.is(r.outputs_match, true, `batch ${r.batch}: max abs diff ${r.max_abs_diff}`);
  assert.match(readFileSync(join(out, 'rcae-bench-f32.md'), 'utf8'), /samples\/s/);
});

requires(bundle, runMissing ?? torchMissing, { ci: true })('run-on-gpu.sh from the unpacked bundle: the PyTorch baseline', () => {
  assert.ok(out, 'the bundle run did not happen');
  const result = JSON.parse(readFileSync(join(out, 'torch-baseline.json'), 'utf8'));
  const arch = referenceArchitecture(2);
  assert.is(result.device_type, 'cpu');
  assert.is(result.model.parameters, parameterCount(arch));
  assert.ok(Math.abs(result.model.gflop_per_sample * 1e9 - planFlops(buildPlan(arch))) < 1, 'FLOPs counted as the engine counts them');
  const ran = result.runs.map((r: { variant: string; batch: number }) => `${r.variant}@${r.batch}`).sort();
  assert.equal(ran, ['channels_last_fp32@1', 'channels_last_fp32@2', 'fp32@1', 'fp32@2']);
  for (const r of result.runs) {
    assert.ok(r.ms_per_batch > 0 && r.ms_min <= r.ms_per_batch && r.ms_per_batch <= r.ms_max, JSON.stringify(r));
    assert.ok(Math.abs(r.samples_per_s * r.ms_per_batch / 1e3 - r.batch) < 1e-9 * r.batch, 'samples/s matches ms/batch');
    assert.is(r.iterations, 2);
    assert.ok(r.max_abs_diff_vs_fp32 <= 1e-5, `${r.variant} output matches fp32: ${r.max_abs_diff_vs_fp32}`);
  }
  const skipped = result.skipped.map((s: { variant: string }) => s.variant).sort();
  assert.equal(skipped, ['channels_last_fp16_autocast', 'channels_last_tf32', 'fp16_autocast', 'tf32']);
  const table = readFileSync(join(out, 'torch-baseline.md'), 'utf8');
  assert.match(table, /\| fp32 \| 2 \| [\d.]+ \| [\d.]+ \|/);
});

bundle.run();
