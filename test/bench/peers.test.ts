// Benchmark peers: the TypeScript ONNX writer (loaded by onnxruntime-node, checked against the
// float64 reference on fresh random architectures and against PyTorch's own ONNX export), the
// child protocol, the model-file cache, and every peer child at batch 2 on the w8 fixture.
// A peer whose package or PyTorch is missing is skipped, visibly, with the reason (a required skip in CI).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as OrtNode from 'onnxruntime-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MissingParameterError } from '../../bench/peers/folding.js';
import { PEER_ENGINES, type PeerEngine, type PeerModel, peerModelForFile, preparePeerModel, runPeer } from '../../bench/peers/index.js';
import { ONNX_INPUT, ONNX_OUTPUT, encodeOnnxModel, writeOnnxModel } from '../../bench/peers/onnx-writer.js';
import { MessageWriter, concat } from '../../bench/peers/protobuf.js';
import { ProtocolError, childArgv, parseChildArgs, parseChildResult } from '../../bench/peers/protocol.js';
import { readCanonicalParams } from '../../bench/peers/weights.js';
import { type Architecture, validateArchitecture } from '../../src/graph/architecture.js';
import { buildPlan } from '../../src/graph/plan.js';
import { randomImages, randomParams } from '../../src/graph/random-params.js';
import { referenceForward } from '../../src/graph/reference.js';
import { readNpy } from '../../src/io/npy.js';
import { assertClose, pick, rng } from '../kernels/support.js';
import { fixture, repoRoot, tempDir } from '../helpers/paths.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';

const TOLERANCE = 1e-4;
type Ort = typeof OrtNode;

async function loadOrt(): Promise<Ort | null> {
  try {
    return (await import('onnxruntime-node')).default as unknown as Ort;
  } catch {
    return null;
  }
}
const ortNode = await loadOrt();
const ortMissing = ortNode ? null : 'onnxruntime-node is not installed';

/** Runs an ONNX model in-process with the output pre-allocated and NaN-poisoned. */
async function runOnnx(ort: Ort, model: Uint8Array | string, arch: Architecture, input: Float32Array, batch: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model as Uint8Array);
  try {
    const shape = [batch, arch.inChannels, arch.imageSize, arch.imageSize];
    const out = new ort.Tensor('float32', new Float32Array(input.length).fill(Number.NaN), shape);
    await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, shape) }, { [ONNX_OUTPUT]: out });
    return out.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** A fresh small architecture: 2-3 stages, odd channel counts, any block placement, both activations. */
function randomArchitecture(rand: () => number): Architecture {
  const stages = pick(rand, [2, 3]);
  const inChannels = pick(rand, [1, 2, 3]);
  const channels = () => 1 + Math.floor(rand() * 5);
  const blocks = () => Math.floor(rand() * 3);
  const decoder = Array.from({ length: stages }, (_, i) => (i === stages - 1 ? { channels: inChannels, residualBlocks: 0 } : { channels: channels(), residualBlocks: blocks() }));
  return validateArchitecture({
    baseWidth: 1,
    inChannels,
    imageSize: pick(rand, [1, 2, 3, 5]) << stages,
    latentDim: 1 + Math.floor(rand() * 7),
    activation: pick(rand, ['relu', 'leaky_relu']),
    leakySlope: 0.05 + rand() * 0.25,
    encoder: Array.from({ length: stages }, () => ({ channels: channels(), residualBlocks: blocks() })),
    decoder,
    fcEncodeActivation: rand() < 0.5,
    fcDecodeActivation: rand() < 0.5,
  });
}

const writer = suite('peers: ONNX writer');

writer('protobuf varints and fields encode as the wire format says', () => {
  const bytes = concat(new MessageWriter().uint(1, 0).uint(2, 150).uint(3, 2 ** 53 - 1).string(4, 'é').float(5, 1).finish());
  assert.equal([...bytes], [
    0x08, 0x00,
    0x10, 0x96, 0x01,
    0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
    0x22, 0x02, 0xc3, 0xa9,
    0x2d, 0x00, 0x00, 0x80, 0x3f,
  ]);
  assert.throws(() => new MessageWriter().uint(1, -1), /non-negative/);
});

requires(writer, ortMissing, { ci: true })('random small architectures: onnxruntime-node matches the float64 reference (batch 1 and 3)', async () => {
  const ort = ortNode!;
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    const rand = rng(seed);
    const arch = randomArchitecture(rand);
    const params = randomParams(arch, seed);
    const batch = seed % 2 === 0 ? 1 : 3;
    const input = randomImages(batch, arch.inChannels * arch.imageSize * arch.imageSize, seed);
    const got = await runOnnx(ort, concat(encodeOnnxModel(arch, params, `seed ${seed}`)), arch, input, batch);
    const want = referenceForward(buildPlan(arch), params, input, batch).reconstruction;
    assertClose(got, want, TOLERANCE, `seed ${seed} ${JSON.stringify(arch)}`);
  }
});

writer('a missing or misshapen tensor is named in the error', () => {
  const arch = randomArchitecture(rng(3));
  const params = randomParams(arch, 3);
  const without = new Map(params);
  without.delete('fc_decode.bias');
  assert.throws(() => encodeOnnxModel(arch, without, 'weights.pt'), (e: Error) => e instanceof MissingParameterError && e.message === 'weights.pt: missing tensor fc_decode.bias');
  const short = new Map(params).set('encoder.0.bn.running_var', new Float32Array(1000));
  assert.throws(() => encodeOnnxModel(arch, short, 'weights.pt'), /weights\.pt: tensor encoder\.0\.bn\.running_var has 1000 values/);
});

requires(writer, ortMissing ?? torchMissing, { ci: true })('agrees with torch.onnx.export of the same weights (tools/export_onnx.py)', async () => {
  const ort = ortNode!;
  const env = pythonEnv;
  const dir = tempDir('rcae-export-onnx-');
  const made = spawnSync(python, [join(repoRoot, 'tools', 'export_onnx.py'), '--out', dir, '--width', '2', '--latent', '8', '--placement', 'enc4-res', '--seed', '5'], { env, encoding: 'utf8', timeout: 120_000 });
  assert.is(made.status, 0, made.stderr);
  const arch = validateArchitecture(JSON.parse(readFileSync(join(dir, 'arch.json'), 'utf8')));
  const ours = join(dir, 'rcae.onnx');
  await writeOnnxModel(ours, arch, await readCanonicalParams(join(dir, 'model.pt'), arch), 'model.pt');
  const input = randomImages(2, 3 * 128 * 128, 5);
  const torchOnnx = await runOnnx(ort, readFileSync(join(dir, 'model.onnx')), arch, input, 2);
  assertClose(await runOnnx(ort, readFileSync(ours), arch, input, 2), torchOnnx, TOLERANCE, 'rcae ONNX vs torch ONNX');
});

const files = suite('peers: protocol and model files');

files('child arguments round-trip; bad ones are refused with the flag named', () => {
  const args = { engine: 'ort-cpu' as const, weightsPath: 'w.pt', archPath: 'a.json', onnxPath: 'm.onnx', batch: 8, iterations: 3, warmup: 1, inputPath: 'in.bin', outputPath: 'out.bin' };
  assert.equal(parseChildArgs(childArgv(args)), args);
  const argv = childArgv(args);
  assert.throws(() => parseChildArgs(argv.slice(0, -2)), (e: Error) => e instanceof ProtocolError && /missing --output/.test(e.message));
  assert.throws(() => parseChildArgs(argv.map((a) => (a === '8' ? '0' : a))), /--batch must be an integer/);
  assert.throws(() => parseChildArgs(argv.map((a) => (a === 'ort-cpu' ? 'onnx-gpu' : a))), /--engine must be one of/);
  assert.throws(() => parseChildArgs([...argv, '--frobnicate', '1']), /unknown argument --frobnicate/);
});

files('the result is the last JSON result line, whatever a library printed before it', () => {
  const out = 'Hi there. Looks like you are running TensorFlow.js in Node.js\n{"not":"a result"}\n{"ok":true,"engine":"tfjs-webgpu","batch":2,"ms":[5,7],"backend":"x"}\n';
  assert.equal(parseChildResult(out), { ok: true, engine: 'tfjs-webgpu', batch: 2, ms: [5, 7], backend: 'x' });
  assert.equal(parseChildResult('{"ok":false,"engine":"torch-cpu","error":"no torch","skipped":true}'), { ok: false, engine: 'torch-cpu', error: 'no torch', skipped: true });
  assert.is(parseChildResult('Segmentation fault\n'), null);
});

files('preparePeerModel writes canonical safetensors + ONNX once and finds them again by content', async () => {
  const arch = randomArchitecture(rng(21));
  const params = randomParams(arch, 21);
  const cacheDir = tempDir('rcae-peer-cache-');
  const first = await preparePeerModel(arch, params, { cacheDir });
  const back = await readCanonicalParams(first.weightsPath, arch);
  for (const [name, data] of params) assert.equal(back.get(name), data, name);
  assert.equal(validateArchitecture(JSON.parse(readFileSync(first.archPath, 'utf8'))), arch);
  const written = statSync(first.onnxPath).mtimeMs;
  const again = await preparePeerModel(arch, params, { cacheDir });
  assert.equal(again, first);
  assert.is(statSync(again.onnxPath).mtimeMs, written);
  const changed = new Map(params).set('fc_encode.bias', params.get('fc_encode.bias')!.map((v) => v + 1));
  assert.is.not((await preparePeerModel(arch, changed, { cacheDir })).onnxPath, first.onnxPath);
});

const children = suite('peers: child processes on the w8 fixture (batch 2)');

const w8 = fixture('model', 'w8');
let w8Model: PeerModel;
let w8Input: Float32Array;
let w8Golden: Float32Array;

children.before(async () => {
  const arch = validateArchitecture(JSON.parse(readFileSync(join(w8, 'arch.json'), 'utf8')), 'w8/arch.json');
  w8Model = await peerModelForFile(arch, join(w8, 'model-canonical.pt'), { cacheDir: tempDir('rcae-peer-w8-') });
  const perSample = 3 * 128 * 128;
  w8Input = readNpy(join(w8, 'input-random.npy')).data.slice(0, 2 * perSample);
  w8Golden = readNpy(join(w8, 'recon-random.npy')).data.slice(0, 2 * perSample);
});

// Where each peer's prerequisite comes from; the WebGPU peers are devDependencies and always run.
const peerMissing: Record<PeerEngine, string | null> = { 'ort-webgpu': null, 'tfjs-webgpu': null, 'ort-cpu': ortMissing, 'torch-cpu': torchMissing };

function peerTest(engine: PeerEngine): void {
  requires(children, peerMissing[engine], { ci: true })(`${engine}: runs and reproduces the PyTorch float64 golden`, async () => {
    const r = await runPeer(engine, { model: w8Model, batch: 2, iterations: 1, warmup: 0, input: w8Input, timeoutMs: 120_000 });
    assert.not.ok(r.skipped, `${engine} skipped itself although its prerequisites are here: ${r.error}`);
    assert.is(r.error, undefined, `${engine} failed: ${r.error}`);
    assert.ok(r.samplesPerS! > 0 && r.ms.length === 1 && r.msMedian === r.ms[0], JSON.stringify(r.ms));
    assertClose(r.output!, w8Golden, TOLERANCE, engine);
  });
}
PEER_ENGINES.forEach(peerTest);

// fc_encode with K = 8 * 32 * 32 = 8192 inputs, as at full width: the shape that sends tfjs to its
// split-K matmul. Two stages keep the reconstruction sensitive to the latent.
const wideBottleneck = validateArchitecture({
  baseWidth: 4, inChannels: 3, imageSize: 128, latentDim: 96, activation: 'leaky_relu', leakySlope: 0.1,
  encoder: [{ channels: 4, residualBlocks: 1 }, { channels: 8, residualBlocks: 0 }],
  decoder: [{ channels: 5, residualBlocks: 1 }, { channels: 3, residualBlocks: 0 }],
  fcEncodeActivation: true, fcDecodeActivation: false,
});

children('every peer on a wide bottleneck (fc_encode K=8192) matches the float64 reference', async () => {
  const params = randomParams(wideBottleneck, 31);
  const model = await preparePeerModel(wideBottleneck, params, { cacheDir: tempDir('rcae-peer-wide-') });
  const input = randomImages(2, 3 * 128 * 128, 31);
  const want = referenceForward(buildPlan(wideBottleneck), params, input, 2).reconstruction;
  for (const engine of PEER_ENGINES.filter((e) => peerMissing[e] === null)) {
    const r = await runPeer(engine, { model, batch: 2, iterations: 1, warmup: 0, input, timeoutMs: 120_000 });
    assert.not.ok(r.skipped, `${engine} skipped itself although its prerequisites are here: ${r.error}`);
    assert.is(r.error, undefined, `${engine} failed: ${r.error}`);
    assertClose(r.output!, want, TOLERANCE, engine);
  }
});

children('a broken weights file fails with one line naming the file, not a hang or a crash', async () => {
  const broken: PeerModel = { ...w8Model, weightsPath: join(w8, 'arch.json') };
  const r = await runPeer('tfjs-webgpu', { model: broken, batch: 2, iterations: 1, warmup: 0, input: w8Input, timeoutMs: 60_000 });
  assert.not.ok(r.skipped, `tfjs-webgpu skipped itself: ${r.error}`);
  assert.is(r.output, null);
  assert.ok(r.error?.includes('arch.json') && !r.error.includes('\n'), r.error);
});

writer.run();
files.run();
children.run();
