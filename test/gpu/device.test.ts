import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpu, GpuError, gpuInfo } from '../../src/gpu/device.js';
import { listAdapters } from '../../src/node/dawn.js';
import { bindKernel, computePipeline, kernelShader, pipelineCount, pipelineKey } from '../../src/gpu/shader.js';
import { UniformLayoutError, uniformStruct } from '../../src/gpu/uniforms.js';
import { readNpy } from '../../src/io/npy.js';
import { loadModel } from '../../src/model.js';
import { testGpu } from '../helpers/gpu.js';
import { fixture } from '../helpers/paths.js';

const test = suite('gpu/device');

const echoUniforms = uniformStruct('EchoParams', {
  count: 'u32',
  direction: 'vec3f',
  scale: 'f32',
  size: 'vec2u',
  offset: 'i32',
  color: 'vec4f',
  last: 'u32',
});
const echoSource = { name: 'test/gpu/uniform-echo.wgsl', code: readFileSync(new URL('./uniform-echo.wgsl', import.meta.url), 'utf8') };
const echo = kernelShader({ id: 'test-uniform-echo', source: echoSource, uniforms: echoUniforms, storage: ['read_write'] });

async function expectGpuError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, GpuError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable('expected a GpuError');
}

test('opens a device and describes its adapter', async () => {
  const gpu = await testGpu();
  const adapters = await listAdapters();
  assert.ok(adapters.length >= 1);
  assert.ok(adapters.some((a) => a.description === gpu.adapter.description && a.backend === gpu.adapter.backend));
  assert.ok(gpu.limits.maxComputeWorkgroupsPerDimension >= 65535);
  const info = gpuInfo(gpu) as { features: string[]; limits: Record<string, number> };
  assert.equal(info.limits.maxStorageBufferBindingSize, gpu.limits.maxStorageBufferBindingSize);
  assert.equal(info.features, [...gpu.features].sort());
});

test('an adapter that does not exist is a GpuError naming the available ones', async () => {
  await expectGpuError(Gpu.open({ adapter: 'no-such-adapter-qqq' }), /no adapter matches "no-such-adapter-qqq"; available: 0: /);
  await expectGpuError(Gpu.open({ adapter: '999' }), /adapter index 999 out of range/);
});

test('upload, partial write and read round-trip exactly', async () => {
  const gpu = await testGpu();
  const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.25 - 3);
  const buffer = gpu.upload(data, 'roundtrip');
  gpu.write(buffer, new Float32Array([100, 200]), 8);
  const expected = data.slice();
  expected.set([100, 200], 2);
  assert.equal([...(await gpu.read(buffer, data.byteLength))], [...expected]);
  assert.equal([...(await gpu.read(buffer, 12, 4))], [...expected.slice(1, 4)]);
  buffer.destroy();
});

test('checked() turns a bad shader and a bad binding into GpuError', async () => {
  const gpu = await testGpu();
  await expectGpuError(gpu.checked('compile broken', () => gpu.device.createShaderModule({ code: 'fn main( {' })), /^compile broken: .*WGSL/s);
  const tooSmall = gpu.createBuffer(4, 'storage', 'too small');
  // The storage binding is declared read_write but bound with a uniform buffer: a validation error.
  await expectGpuError(
    gpu.checked('bind wrong buffer', () => bindKernel(gpu, echo, 'bad bind', echoValues(), [gpu.createBuffer(64, 'uniform', 'wrong kind')])),
    /^bind wrong buffer: /,
  );
  tooSmall.destroy();
  const plain = await gpu.checked('no error', () => 42);
  assert.is(plain, 42);
  try {
    await gpu.checked('throws', () => {
      throw new RangeError('own error');
    });
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, RangeError);
  }
});

function echoValues() {
  return { count: 7, direction: [1.5, -2, 3.25], scale: 0.125, size: [640, 480], offset: -9, color: [0.1, 0.2, 0.3, 0.4], last: 0xfffffffe } as const;
}

test('uniform layout follows WGSL alignment rules', () => {
  assert.equal(
    echoUniforms.fields.map((f) => [f.name, f.offset]),
    [['count', 0], ['direction', 16], ['scale', 28], ['size', 32], ['offset', 40], ['color', 48], ['last', 64]],
  );
  assert.is(echoUniforms.byteSize, 80);
  assert.match(echoUniforms.wgsl, /struct EchoParams \{\n  count: u32,\n  direction: vec3<f32>,/);
  assert.throws(() => echoUniforms.pack({ ...echoValues(), count: -1 }), (e: Error) => e instanceof UniformLayoutError && /count: -1 is not a u32/.test(e.message));
  assert.throws(() => echoUniforms.pack({ ...echoValues(), scale: Number.NaN }), /scale: NaN is not a finite number/);
  assert.throws(() => echoUniforms.pack({ ...echoValues(), size: [1, 2, 3] }), /size: expected 2 component/);
  const { last: _omitted, ...missing } = echoValues();
  assert.throws(() => echoUniforms.pack(missing as unknown as ReturnType<typeof echoValues>), /last: missing value/);
});

test('packed uniforms read back identically inside a shader', async () => {
  const gpu = await testGpu();
  const out = gpu.createBuffer(11 * 4, 'storage', 'echo out');
  const values = echoValues();
  await gpu.checked('uniform echo', () => {
    const { group } = bindKernel(gpu, echo, 'echo', values, [out]);
    gpu.submit((encoder) => {
      const pass = encoder.beginComputePass();
      pass.setPipeline(computePipeline(gpu, echo, {}));
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(1);
      pass.end();
    });
  });
  const words = new Uint32Array((await gpu.read(out, 44)).buffer);
  const f = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
  assert.equal([...words], [7, f(1.5), f(-2), f(3.25), f(0.125), 640, 480, (-9 >>> 0), f(0.1), f(0.4), 0xfffffffe]);
  out.destroy();
});

test('pipelines are cached by shader id and override constants', async () => {
  const gpu = await testGpu();
  const before = pipelineCount(gpu);
  const a = computePipeline(gpu, echo, {});
  const b = computePipeline(gpu, echo, {});
  assert.is(a, b);
  assert.is(pipelineCount(gpu), Math.max(before, 1));
  assert.is(pipelineKey(echo, { B: 2, A: 1 }), pipelineKey(echo, { A: 1, B: 2 }));
  assert.is.not(pipelineKey(echo, { A: 1 }), pipelineKey(echo, { A: 2 }));
  assert.throws(() => kernelShader({ id: 'test-uniform-echo', source: echoSource, uniforms: echoUniforms, storage: [] }), /declared twice/);
});

// Real GPUs are opened with allow_unsafe_apis and vulkan_enable_f16_on_nvidia; software adapters
// without them, so CI would never open a device the way an H100 run does. gpuToggles forces it.
test("a software adapter opened with the GPU path's toggles gets them, and runs a model as the default path does", async () => {
  const toggled = await Gpu.open({ gpuToggles: true });
  const plain = await testGpu();
  try {
    assert.equal([...toggled.toggles].sort(), ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia']);
    assert.is(toggled.adapter.description, plain.adapter.description);
    for (const f of plain.features) assert.ok(toggled.features.has(f), `${f} lost with the toggles`);
    const checkpoint = fixture('model', 'w8', 'model-published.ckpt');
    const input = readNpy(fixture('model', 'w8', 'input-cifar.npy')).data;
    const [a, b] = [await loadModel(checkpoint, { gpu: toggled }), await loadModel(checkpoint, { gpu: plain })];
    try {
      assert.equal(Array.from(await a.reconstructionError(input)), Array.from(await b.reconstructionError(input)));
    } finally {
      a.dispose();
      b.dispose();
    }
  } finally {
    toggled.destroy();
  }
});

test('destroy is idempotent and later use is a GpuError', async () => {
  const gpu = await Gpu.open();
  gpu.destroy();
  gpu.destroy();
  assert.throws(() => gpu.createBuffer(16, 'storage', 'late'), (e: Error) => e instanceof GpuError && /already destroyed/.test(e.message));
  await expectGpuError(gpu.checked('late work', () => 1), /^late work: the GPU device was already destroyed/);
});

test.run();
