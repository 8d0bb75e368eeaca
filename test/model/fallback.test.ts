// A kernel family that does not compile on the device is a fallback, not a crash: tensor cores ->
// f16 tiles -> f32 tiles, with one warning naming the family and the compiler's message, recorded on
// the model (and on `rcae tune`'s result). The failure is real (Dawn's compiler rejecting WGSL), planted by making the device
// receive a broken copy of the chosen family's shaders; the model still matches PyTorch afterwards.
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpu, GpuError } from '../../src/gpu/device.js';
import { readNpy } from '../../src/io/npy.js';
import { loadModel } from '../../src/model.js';
import '../../src/node/node-platform.js';
import { referenceArchitecture } from '../../src/graph/architecture.js';
import { tileKey } from '../../src/kernels/conv2d/gemm.js';
import { tuneLayers } from '../../src/graph/tuner.js';
import { fixture } from '../helpers/paths.js';

const test = suite('model/fallback');
const dir = fixture('model', 'w8');
const checkpoint = join(dir, 'model-published.ckpt');

/** A fresh device (no cached modules) whose compiler gets broken WGSL for shaders whose id matches `broken`. */
async function deviceBreaking(broken: RegExp): Promise<Gpu> {
  const gpu = await Gpu.open();
  const create = gpu.device.createShaderModule.bind(gpu.device);
  gpu.device.createShaderModule = (descriptor) => create(broken.test(descriptor.label ?? '') ? { ...descriptor, code: `${descriptor.code}\nconst planted: u32 = 1.5;\n` } : descriptor);
  return gpu;
}

function worstAbs(got: Float32Array, want: Float32Array): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m;
}

test('tensor-core kernels that do not compile fall back to f16 tiles, warn once and still match PyTorch', async () => {
  const gpu = await deviceBreaking(/^conv2d-gemm f16 .*matrix-emulated/);
  const warnings: string[] = [];
  try {
    const model = await loadModel(checkpoint, { gpu, variant: 'matrix-emulated', precision: 'f16', onWarning: (m) => warnings.push(m) });
    try {
      assert.is(model.variant, 'fma');
      assert.is(model.precision, 'f16');
      assert.is(model.fallbacks.length, 1);
      assert.is(model.fallbacks[0].variant, 'matrix-emulated f16');
      assert.is(model.fallbacks[0].to, 'fma f16');
      assert.match(model.fallbacks[0].reason, /^conv2d-gemm f16 .*matrix-emulated.*: \d+:\d+ .*(abstract-float|f32).*u32/);
      assert.is(warnings.length, 1);
      assert.match(warnings[0], /^warning: .*: the matrix-emulated f16 kernels do not compile \(conv2d-gemm .*\); running fma f16 instead$/);
      assert.not.match(warnings[0], /\n/);
      const error = await model.reconstructionError(readNpy(join(dir, 'input-cifar.npy')).data);
      const want = readNpy(join(dir, 'mse-cifar.npy')).data;
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(error[i] - want[i]) / want[i] <= 1e-2, `sample ${i}: ${error[i]} vs ${want[i]}`);
    } finally {
      model.dispose();
    }
  } finally {
    gpu.destroy();
  }
});

test('when f16 tiles fail too the model runs f32 tiles, at f32 parity', async () => {
  const gpu = await deviceBreaking(/^conv2d-gemm f16 /);
  const warnings: string[] = [];
  try {
    const model = await loadModel(checkpoint, { gpu, variant: 'matrix-emulated', precision: 'f16', onWarning: (m) => warnings.push(m) });
    try {
      assert.equal(model.fallbacks.map((f) => `${f.variant} -> ${f.to}`), ['matrix-emulated f16 -> fma f16', 'fma f16 -> fma f32']);
      assert.is(warnings.length, 2);
      assert.is(model.precision, 'f32');
      const input = readNpy(join(dir, 'input-cifar.npy')).data;
      assert.ok(worstAbs(await model.reconstruct(input), readNpy(join(dir, 'recon-cifar.npy')).data) <= 1e-4);
    } finally {
      model.dispose();
    }
  } finally {
    gpu.destroy();
  }
});

test('with nothing left to fall back to, loading fails with the compiler message and frees the device', async () => {
  const gpu = await deviceBreaking(/^conv2d-gemm /);
  try {
    const live = gpu.liveBuffers;
    let thrown: unknown;
    try {
      await loadModel(checkpoint, { gpu, variant: 'fma', precision: 'f32', onWarning: () => assert.unreachable('no fallback from f32 tiles') });
    } catch (err) {
      thrown = err;
    }
    assert.instance(thrown, GpuError);
    assert.match((thrown as Error).message, /^conv2d-gemm f32 .*: \d+:\d+ /);
    assert.is(gpu.liveBuffers, live, 'the failed executor released its weights');
  } finally {
    gpu.destroy();
  }
});

test('rcae tune falls back like a model, and passes over a candidate tile that does not compile', async () => {
  // Broken: the tensor-core family, and in the f16 tile family the 128x16 tiles, which the heuristic
  // never picks and tune tries early.
  const gpu = await deviceBreaking(/^conv2d-gemm f16 .*(matrix-emulated|fma 128x16x)/);
  const warnings: string[] = [];
  try {
    const result = await tuneLayers(gpu, referenceArchitecture(2), { precision: 'f16', batch: 1, variant: 'matrix-emulated', samples: 1, floorMs: 0.1, maxCandidates: 2, onWarning: (m) => warnings.push(m) });
    assert.equal(result.fallbacks.map((f) => `${f.variant} -> ${f.to}`), ['matrix-emulated f16 -> fma f16']);
    assert.is(warnings.length, 1);
    assert.is(result.precision, 'f16');
    assert.is(result.backend, 'fma');
    assert.ok(result.layers.length > 0);
    assert.ok(result.failed.length > 0, 'a 128x16 candidate was tried');
    for (const f of result.failed) {
      assert.match(f.tile, /^fma 128x16x/);
      assert.match(f.reason, /^conv2d-gemm f16 .*fma 128x16x.*: \d+:\d+ /);
    }
    assert.ok(result.layers.every((l) => !/^fma 128x16x/.test(tileKey(l.tile))), 'no broken tile won');
  } finally {
    gpu.destroy();
  }
});

test('a model that compiles records no fallback', async () => {
  const model = await loadModel(checkpoint, { variant: 'fma', precision: 'f16', onWarning: () => assert.unreachable('no warning') });
  try {
    assert.equal(model.fallbacks, []);
  } finally {
    model.dispose();
  }
});

test.run();
