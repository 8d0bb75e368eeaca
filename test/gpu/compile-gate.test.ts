// The kernel compile gate (src/pipeline/compile-gate.ts): every pipeline the engine can create,
// compiled on Dawn's null backend with every feature (the tensor-core kernels included, which no CI
// adapter runs) and on the adapter the suite runs on; and proof that the gate catches the kind of
// shader only a GPU would otherwise reject.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpu } from '../../src/gpu/device.js';
import { kernelShader, pipelineKey } from '../../src/gpu/shader.js';
import { uniformStruct } from '../../src/gpu/uniforms.js';
import { GATE_FRAGMENTS, gateCases, runGate, type GateCase, type GateReport } from '../../src/pipeline/compile-gate.js';
import { testGpu } from '../helpers/gpu.js';

const test = suite('gpu/compile-gate');

let nullGpu: Gpu;
let nullReport: GateReport;
let nullCases: GateCase[];

test.before(async () => {
  nullGpu = await Gpu.open({ backend: 'null' });
});

test.after(() => nullGpu.destroy());

function printed(report: GateReport): string {
  return `${report.device}: ${report.modules.compiled} modules compiled, ${report.pipelines.created} pipelines created, ${report.pipelines.skipped} skipped (${report.skipped.map((s) => `${s.count} ${s.reason}`).join('; ')})`;
}

test("the null backend offers every feature the kernels use, with the GPU path's toggles", () => {
  for (const f of ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix', 'timestamp-query']) assert.ok(nullGpu.features.has(f), f);
  assert.equal([...nullGpu.toggles].sort(), ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia']);
  // It reports no fragment shapes: the gate names them.
  assert.is(nullGpu.fragment, undefined);
});

test('every pipeline compiles on the null backend, the tensor-core kernels for every fragment shape', async () => {
  nullCases = gateCases(nullGpu);
  nullReport = await runGate(nullGpu, nullCases);
  console.log(`  compile gate, ${printed(nullReport)}`);
  assert.equal(nullReport.failures, []);
  assert.equal(nullReport.modules.failed + nullReport.pipelines.failed, 0);
  assert.equal(nullReport.fragments, [...GATE_FRAGMENTS]);
  assert.is(nullReport.modules.skipped, 0, 'the null backend lacks no feature');
  const built = nullCases.filter((c) => !c.missing && !c.exceeds);
  assert.is(nullReport.pipelines.created, built.length);
  // Each family made it into real pipelines, not only into skipped cases.
  for (const kernel of ['tile', 'matrix-emulated', 'matrix', 'register', 'subgroup', 'shared', 'linear', 'mse', 'hf', 'ssim', 'tanh']) {
    assert.ok(built.some((c) => c.kernel === kernel), `no pipeline created for ${kernel}`);
  }
  for (const what of [/^tile f16 /, /^matrix f16 .* frag 16x16x16\/32/, /^matrix f16 .* frag 8x8x8\/32/]) assert.ok(built.some((c) => what.test(c.what)), `no pipeline for ${what}`);
  // Split-K reductions, vec4 and scalar loaders, transposed layers: each kind of shader is there.
  for (const id of [/^conv2d-gemm-reduce /, / nhwc-f16x4 /, / nchw-f32 nhwc-f16 /, /frag16x8x8\/32/]) {
    assert.ok(nullCases.some((c) => id.test(c.request.shader.id)), `no shader matching ${id}`);
  }
  assert.ok(nullCases.some((c) => c.request.constants.TRANSPOSED === 1));
});

test('pipelines are listed once, and a skipped one still has its module compiled', () => {
  const keys = nullCases.map((c) => pipelineKey(c.request.shader, c.request.constants));
  assert.is(new Set(keys).size, keys.length);
  const exceeding = nullCases.filter((c) => c.exceeds);
  assert.ok(exceeding.length > 0, "the null backend's 16 KiB of workgroup memory is less than the GPU-class tiles need");
  const ids = new Set(exceeding.map((c) => c.request.shader.id));
  assert.is(nullReport.modules.compiled, new Set(nullCases.map((c) => c.request.shader.id)).size);
  assert.ok(ids.size > 0);
  assert.ok(nullReport.skipped.every((s) => /workgroup memory|largest subgroup/.test(s.reason)), JSON.stringify(nullReport.skipped));
});

// The first tensor-core kernel passed offsets derived from local_invocation_index to
// subgroupMatrixStore; Dawn's subgroup-uniformity analysis rejects that, and only a GPU with subgroup
// matrices compiled it, so CI never saw it. The gate must.
test('the gate catches a subgroup-matrix offset that is not subgroup-uniform', async () => {
  const code = `
var<workgroup> scratchPatch: array<f32, 512>;
@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32) {
  let c = subgroup_matrix_result<f32, 16, 16>();
  subgroupMatrixStore<row_major>(&scratchPatch, (lid / 32u) * 256u, c, 16u);
}`;
  const shader = kernelShader({ id: 'test-gate-non-uniform-offset', source: { name: 'test', code }, enables: ['subgroups', 'chromium_experimental_subgroup_matrix'], uniforms: uniformStruct('GateParams', { n: 'u32' }), storage: [] });
  const report = await runGate(nullGpu, [{ kernel: 'test', what: 'non-uniform offset', request: { shader, constants: {} } }]);
  assert.is(report.failures.length, 1);
  assert.match(report.failures[0].message, /^test-gate-non-uniform-offset: \d+:\d+ .*subgroupMatrixStore.* uniform/);
  assert.is(report.modules.failed, 1);
});

test('on the suite adapter every pipeline it supports compiles, and what it lacks is named', async () => {
  const gpu = await testGpu();
  const cases = gateCases(gpu);
  const report = await runGate(gpu, cases);
  console.log(`  compile gate, ${printed(report)}`);
  assert.equal(report.failures, []);
  assert.ok(report.pipelines.created > 100);
  if (!gpu.features.has('chromium-experimental-subgroup-matrix')) {
    assert.ok(report.skipped.some((s) => s.reason === 'the device lacks chromium-experimental-subgroup-matrix'));
    assert.equal(report.fragments, []);
  }
});

test.run();
