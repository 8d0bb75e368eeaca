// The GPU run bundle (bench/gpu/): built for real with the fast xz level 1 (it compresses less than the
// default level 6, 39.7 against 34.2 MiB, so its size bounds the real one), its contents checked, then
// unpacked and the whole protocol dry-run on this machine exactly as a GPU call runs it except for the
// driver and the sizes: the bundled node, node_modules and Vulkan loader with lavapipe's ICD, every step
// at width 8 and batches 2 and 4 (the PyTorch baseline on the CPU, or marked skipped without PyTorch),
// and what comes back checked against the device machine's limits: at most 8 files of 16 MiB, no
// folders, 480 s of step limits, a complete summary.md.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  spawnSync('bash', ['-c', command], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * MiB });
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
  const built = sh(`bash bench/gpu/make-bundle.sh --no-build --xz-level 1 --out '${join(work, 'out')}'`);
  assert.is(built.status, 0, tail(built));
  const size = Number(sh(`stat -c %s '${archive}'`).stdout);
  assert.ok(size > 8 * MiB && size < 64 * MiB, `archive is ${size} bytes`);
  assert.match(built.stdout, /rcae-gpu-bundle\.tar\.xz: \d+ bytes/);
  // What a device call carries: the working tree and .bundle/ together, under 64 MiB (make-bundle.sh checks it).
  const carried = /^with the working tree \(([\d.]+) MiB\) a device call carries ([\d.]+) MiB of its 64$/m.exec(built.stdout);
  assert.ok(carried && Number(carried[1]) > 1 && Number(carried[2]) < 64, built.stdout.slice(-500));

  const listing = sh(`tar -tvJf '${archive}'`);
  assert.is(listing.status, 0, tail(listing));
  const entries = new Map(listing.stdout.trim().split('\n').map((line) => {
    const f = line.trim().split(/\s+/);
    return [f.slice(5).join(' ').replace(/^rcae-gpu-bundle\//, ''), { mode: f[0], bytes: Number(f[2]) }] as const;
  }));
  for (const path of ['node', 'package.json', 'bin/rcae.js', 'dist/src/cli/main.js', 'dist/bench/harness.js', 'BUNDLE.txt',
    'node_modules/webgpu/index.js', 'node_modules/webgpu/dist/linux-x64/dawn.node', 'node_modules/sharp/package.json',
    'node_modules/tinybench/package.json', 'tools/rcae_model.py', 'bench/gpu/torch_baseline.py', 'bench/gpu/README.md',
    'dist/bench/gpu/summary.js', 'dist/bench/gpu/results.js']) {
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
let results = '';

// The device machine's limits on what comes back from $OUT (see bench/gpu/README.md).
const MAX_FILES = 8;
const MAX_FILE_BYTES = 16 * MiB;
const STEP_LIMITS = 480;

/** $OUT's entries: names, and whether each is a plain file within the size limit. */
function checkOut(out: string): string[] {
  const names = readdirSync(out).sort();
  assert.ok(names.length <= MAX_FILES, `${names.length} entries in $OUT: ${names.join(', ')}`);
  for (const name of names) {
    const st = statSync(join(out, name));
    assert.ok(st.isFile(), `${name} is a plain file, not a folder`);
    assert.ok(st.size <= MAX_FILE_BYTES, `${name}: ${st.size} bytes`);
  }
  return names;
}

interface Step { name: string; status: string; seconds: number; limit: number; note: string }
const stepsOf = (dir: string): Step[] =>
  readFileSync(join(dir, 'steps.tsv'), 'utf8').trim().split('\n').map((l) => {
    const [name, status, seconds, limit, note] = l.split('\t');
    return { name, status, seconds: Number(seconds), limit: Number(limit), note };
  });

requires(bundle, runMissing, { ci: true })('the protocol dry run from the unpacked bundle: loader fallback, every step, 3 files back, summary.md', () => {
  assert.ok(existsSync(archive), 'the bundle build did not succeed');
  const unpacked = sh(`tar -xJf '${archive}' -C '${work}'`);
  assert.is(unpacked.status, 0, tail(unpacked));
  const out = join(work, 'out-dir');
  const run = sh('bash rcae-gpu-bundle/bench/gpu/run-on-gpu.sh --loader private,system', {
    OUT: out, NODE_PATH: undefined,
    // lavapipe, and an NVIDIA ICD that is not there: the loader complains (VK_LOADER_DEBUG) and Dawn lists
    // no NVIDIA adapter, so both loaders are tried and the run goes on with the first that listed one.
    VK_DRIVER_FILES: `${lavapipeIcd}:/nonexistent/nvidia_icd.json`,
    RCAE_BATCHES: '2', RCAE_BIG_BATCHES: '4', RCAE_TUNE_BATCH: '2', TORCH_BATCHES: '2,4',
    // Listing adapters with the dynamic linker's log took over 15 s on a 2-core machine at load 12: more
    // time for it, taken from the w=8 steps, still 460 s of limits in all.
    ADAPTERS_TIMEOUT: '40', BENCH_TIMEOUT: '60', TORCH_TIMEOUT: '60', BIG_TIMEOUT: '40', TUNE_TIMEOUT: '40',
    RCAE_BENCH_ARGS: '--width 8 --variant fma --time 0 --iterations 1 --max-chunk 2', RCAE_TUNE_ARGS: '--width 8 --candidates 0',
    PYTHON: torchPython, ...torchEnv, TORCH_ARGS: '--device cpu --width 8 --iterations 2 --warmup 1',
  }, work);
  const log = readFileSync(join(out, 'run.log'), 'utf8');
  assert.is(run.status, 1, log.slice(-3000));
  assert.match(log, /^failed: vulkan loader$/m);
  assert.equal(checkOut(out), ['results.tar.gz', 'run.log', 'summary.md']);
  const limits = /step limits in all: (\d+) s; deadline (\d+) s after the start/.exec(log);
  assert.ok(limits && Number(limits[1]) <= STEP_LIMITS && Number(limits[2]) <= STEP_LIMITS, limits?.[0]);
  // The run above widens some limits; the script's own defaults are what a GPU machine gets.
  const script = readFileSync(join(repoRoot, 'bench/gpu/run-on-gpu.sh'), 'utf8');
  const dflt = (name: string) => Number(new RegExp(`${name}=\\$\\{${name}:-(\\d+)\\}`).exec(script)?.[1]);
  const defaults = 2 * dflt('ADAPTERS_TIMEOUT') + dflt('SMI_TIMEOUT') + dflt('INFO_TIMEOUT') + 2 * dflt('BENCH_TIMEOUT') + dflt('TORCH_TIMEOUT') + 2 * dflt('BIG_TIMEOUT') + 2 * dflt('TUNE_TIMEOUT');
  assert.ok(defaults <= STEP_LIMITS, `default step limits: ${defaults} s`);
  const spent = Number(/^== \S+ \((\d+) s\)$/m.exec(log)?.[1]);
  assert.ok(spent <= STEP_LIMITS, `the run took ${spent} s`);

  assert.is(sh(`tar -xzf '${join(out, 'results.tar.gz')}' -C '${work}'`).status, 0);
  results = join(work, 'results');
  const files = readdirSync(results).sort();
  const expected = ['adapters.txt', 'rcae-bench-f16-big.json', 'rcae-bench-f16-big.md', 'rcae-bench-f16.json', 'rcae-bench-f16.md', 'rcae-bench-f32-big.json', 'rcae-bench-f32-big.md',
    'rcae-bench-f32.json', 'rcae-bench-f32.md', 'rcae-info.json', 'rcae-info.txt', 'steps.tsv', ...(hasTorch ? ['torch-baseline.json', 'torch-baseline.md'] : []), 'tune-f16.json', 'tune-f32.json', 'tune.json'];
  assert.equal(files.filter((f) => f !== 'nvidia-smi.txt'), expected);

  // The steps in order of value, each within its limit, the limits within 480 s.
  const steps = stepsOf(results);
  assert.equal(steps.map((s) => s.name), ['adapters (private loader)', 'adapters (system loader)', 'vulkan loader', 'nvidia-smi', 'rcae info', 'bench f32', 'bench f16',
    'torch baseline', 'bench f32 big', 'bench f16 big', 'tune f32', 'tune f16']);
  for (const s of steps) {
    const want = s.name === 'vulkan loader' ? 'failed' : s.name === 'nvidia-smi' || (s.name === 'torch baseline' && !hasTorch) ? /^(ok|skipped)$/ : 'ok';
    if (typeof want === 'string') assert.is(s.status, want, `${s.name}: ${s.status} ${s.note}`);
    else assert.match(s.status, want, s.name);
    assert.ok(s.seconds <= s.limit + 5, `${s.name}: ${s.seconds} s of ${s.limit}`);
  }
  assert.ok(steps.reduce((t, s) => t + s.limit, 0) <= STEP_LIMITS);

  // Each loader tried with the loader's own complaints and the libvulkan it loaded; the private one first.
  const adapters = readFileSync(join(results, 'adapters.txt'), 'utf8');
  const [, privateTry, systemTry] = adapters.split(/^== (?:private|system) loader$/m);
  assert.match(privateTry, /calling init: \S*rcae-gpu-run\.[^/]+\/vulkan\/usr\/lib\/x86_64-linux-gnu\/libvulkan\.so\.1/);
  assert.match(systemTry, /calling init: (?!\S*rcae-gpu-run)\S*libvulkan\.so\.1/);
  for (const t of [privateTry, systemTry]) {
    assert.match(t, /^ERROR:\s+loader_get_json: Failed to open JSON file \/nonexistent\/nvidia_icd\.json/m);
    assert.match(t, /^0\s+vulkan\s+.*(llvmpipe|lavapipe)/m, t.slice(-1500));
  }
  assert.match(steps[2].note, /no adapter matching 'nvidia' with private system; went on with private/);

  const info = JSON.parse(readFileSync(join(results, 'rcae-info.json'), 'utf8'));
  assert.ok(Array.isArray(info.subgroupMatrixConfigs) && info.limits.maxComputeWorkgroupStorageSize > 0, 'rcae info --json reports subgroup-matrix configs and limits');
  for (const precision of ['f32', 'f16']) {
    const bench = JSON.parse(readFileSync(join(results, `rcae-bench-${precision}.json`), 'utf8'));
    assert.equal([bench.model.precision, bench.model.variant, bench.model.base_width, bench.adapter.timestamp_quantization], [precision, 'fma', 8, 'off']);
    assert.equal(bench.runs.map((r: { batch: number; timing: string; chunks: number }) => `${r.batch} ${r.timing} ${r.chunks}`), ['2 end-to-end 1', '2 gpu 1']);
    // A fast kernel that computes the wrong thing must fail here: the end-to-end row checks sample 0
    // against the float64 CPU reference.
    assert.is(bench.runs[0].outputs_match, true, `${precision}: max abs diff ${bench.runs[0].max_abs_diff}`);
    assert.ok(bench.layers.rows.length > 20 && bench.layers.rows.every((l: { ms: number }) => l.ms > 0), `${precision}: a per-layer profile`);
    const big = JSON.parse(readFileSync(join(results, `rcae-bench-${precision}-big.json`), 'utf8'));
    assert.equal(big.runs.map((r: { batch: number; timing: string; chunks: number }) => `${r.batch} ${r.timing} ${r.chunks}`), ['4 end-to-end 2']);
    assert.equal([big.chunking.max_chunk, big.chunking.limited_by, big.layers], [2, 'max-chunk', null]);
    assert.is(big.runs[0].outputs_match, true);
    const tune = JSON.parse(readFileSync(join(results, `tune-${precision}.json`), 'utf8'));
    assert.equal(tune.timing, { method: 'timestamp queries', floor_ms: 2, samples: 3, timestamp_quantization: 'off' });
    assert.ok(tune.layers.length > 15 && tune.layers.every((l: { min_sample_ms: number }) => l.min_sample_ms >= 2), `${precision}: every sample at least 2 ms`);
  }
  const cache = JSON.parse(readFileSync(join(results, 'tune.json'), 'utf8'));
  const keys = Object.values(cache.devices as Record<string, { tiles: Record<string, unknown> }>).flatMap((d) => Object.keys(d.tiles));
  assert.ok(keys.some((k) => k.startsWith('f32 ')) && keys.some((k) => k.startsWith('f16 ')), 'tune.json holds both precisions');

  // summary.md: the tables, as the last thing printed and as the file.
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.ok(log.includes(summary), 'run.log ends with summary.md');
  const num = '\\d[\\d,]*(?:\\.\\d+)?';
  const torchCell = hasTorch ? num : '-';
  assert.match(summary, new RegExp(`^\\| 2 \\| ${num} \\| ${num} \\| ${torchCell} \\| - \\| - \\| `, 'm'));
  assert.match(summary, new RegExp(`^\\| 4 \\| ${num} \\(end-to-end, 2 chunks\\) \\| ${num} \\(end-to-end, 2 chunks\\) \\| ${torchCell} \\|`, 'm'));
  assert.match(summary, /^\| 2 \| [\d.]+ \| 1 \| matches \| [\d.]+ \| 1 \| matches \|$/m);
  for (const precision of ['f32', 'f16']) {
    const section = summary.split(`${precision}, batch 2 (timestamp queries around each dispatch; timestamp quantization off):`)[1];
    assert.ok(section, `${precision}: a slowest-layers table`);
    const rows = section.split('\n\n')[1].split('\n').slice(2);
    assert.is(rows.length, 5);
    for (const row of rows) assert.match(row, new RegExp(`^\\| \\S+ \\| 2x\\d+x\\d+x\\d+ \\| fma ${precision} fma \\d+x\\d+x\\d+ t\\d+x\\d+ k\\d+ \\((heuristic|tuned)\\) \\| [\\d.]+ \\|`));
  }
  assert.match(summary, /^- f32, batch 4: at most 2 samples per command buffer, set by maxChunk 2 \(--max-chunk\).*; batch 4 ran in 2 chunks$/m);
  assert.match(summary, /^\| f32 \| 2 \| \d+ \| 0 \| [\d.]+ \| [\d.]+ \| 1\.00x \| timestamp queries, samples >= 2 ms, quantization off \|$/m);
  assert.match(summary, /^\| f16 \| 2 \| \d+ \| 0 \|/m);
  assert.match(summary, /^\| vulkan loader \| failed \| 0 \| 0 \| no adapter matching 'nvidia' with private system; went on with private \|$/m);
  if (!hasTorch) assert.match(summary, /^PyTorch: no results \(skipped: \S+ cannot import torch\)\.$/m);
  assert.not.match(summary, /Problems reading/);
});

requires(bundle, runMissing ?? torchMissing, { ci: true })('the dry run\'s PyTorch baseline: the same model and FLOP count, CPU variants timed, CUDA ones skipped', () => {
  assert.ok(results, 'the protocol dry run did not happen');
  const result = JSON.parse(readFileSync(join(results, 'torch-baseline.json'), 'utf8'));
  const arch = referenceArchitecture(8);
  assert.is(result.device_type, 'cpu');
  assert.is(result.model.parameters, parameterCount(arch));
  assert.ok(Math.abs(result.model.gflop_per_sample * 1e9 - planFlops(buildPlan(arch))) < 1, 'FLOPs counted as the engine counts them');
  const ran = result.runs.map((r: { variant: string; batch: number }) => `${r.variant}@${r.batch}`).sort();
  assert.equal(ran, ['channels_last_fp32@2', 'channels_last_fp32@4', 'fp32@2', 'fp32@4']);
  for (const r of result.runs) {
    assert.ok(r.ms_per_batch > 0 && r.ms_min <= r.ms_per_batch && r.ms_per_batch <= r.ms_max, JSON.stringify(r));
    assert.ok(Math.abs(r.samples_per_s * r.ms_per_batch / 1e3 - r.batch) < 1e-9 * r.batch, 'samples/s matches ms/batch');
    assert.is(r.iterations, 2);
    assert.ok(r.max_abs_diff_vs_fp32 <= 1e-5, `${r.variant} output matches fp32: ${r.max_abs_diff_vs_fp32}`);
  }
  const skipped = result.skipped.map((s: { variant: string }) => s.variant).sort();
  assert.equal(skipped, ['channels_last_fp16_autocast', 'channels_last_tf32', 'fp16_autocast', 'tf32']);
  assert.match(readFileSync(join(results, 'torch-baseline.md'), 'utf8'), /\| fp32 \| 2 \| [\d.]+ \| [\d.]+ \|/);
});

const lavapipeMissing = existsSync(lavapipeIcd) ? null : `no lavapipe ICD at ${lavapipeIcd}`;

requires(bundle, lavapipeMissing, { ci: true })('run-on-gpu.sh never overruns: a step the deadline leaves no time for is cut or skipped; the loader matches first time', () => {
  const out = join(work, 'deadline');
  // A carried tuning cache (a second, tuned call) becomes the run's own, which the bench steps read.
  const carried = join(work, 'carried-tune.json');
  writeFileSync(carried, JSON.stringify({ format: 'rcae-tune-cache', version: 1, devices: {} }));
  const run = sh(`bash bench/gpu/run-on-gpu.sh --loader system --tune-cache '${carried}' info f32`, {
    OUT: out, VK_DRIVER_FILES: lavapipeIcd, RCAE_EXPECT_ADAPTER: 'llvmpipe', RCAE_DEADLINE: '8', RCAE_BATCHES: '1', NODE_PATH: undefined,
  });
  const log = readFileSync(join(out, 'run.log'), 'utf8');
  assert.is(run.status, 1, log.slice(-2000));
  assert.equal(checkOut(out), ['results.tar.gz', 'run.log', 'summary.md']);
  const spent = Number(/^== \S+ \((\d+) s\)$/m.exec(log)?.[1]);
  // The deadline, plus the 5 s a step gets to end after SIGTERM, plus packing.
  assert.ok(spent <= 8 + 5 + 3, `took ${spent} s`);
  assert.is(sh(`tar -xzf '${join(out, 'results.tar.gz')}' -C '${out}'`).status, 0);
  const steps = stepsOf(join(out, 'results'));
  assert.equal(steps.slice(0, 2).map((s) => [s.name, s.status]), [['adapters (system loader)', 'ok'], ['vulkan loader', 'ok']]);
  const bench = steps.find((s) => s.name === 'bench f32')!;
  assert.match(bench.status, /^(timed out|skipped)$/);
  assert.ok(bench.limit <= 8, `bench f32 limit ${bench.limit}`);
  assert.match(log, /^failed: .*bench f32$/m);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /^\| bench f32 \| (timed out|skipped) \|/m);
  assert.is(readFileSync(join(out, 'results', 'tune.json'), 'utf8'), readFileSync(carried, 'utf8'));
});

bundle.run();
