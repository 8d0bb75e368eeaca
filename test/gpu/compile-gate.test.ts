// The kernel compile gate (src/graph/compile-gate.ts): every pipeline the engine can create,
// compiled on Dawn's null backend with every feature (the tensor-core kernels included, which no CI
// adapter runs) and on the adapter the suite runs on; and proof that the gate catches the kind of
// shader only a GPU would otherwise reject.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpu } from '../../src/gpu/device.js';
import { kernelShader, pipelineKey } from '../../src/gpu/shader.js';
import { uniformStruct } from '../../src/gpu/uniforms.js';
import { GATE_FRAGMENTS, gateCases, runGate, type GateReport } from '../../src/graph/compile-gate.js';
import { testGpu } from '../helpers/gpu.js';
import { rcae } from '../helpers/rcae.js';

const test = suite('gpu/compile-gate');

let nullGpu: Gpu;

test.before(async () => {
  nullGpu = await Gpu.open({ backend: 'null' });
});

test.after(() => nullGpu.destroy());

function printed(report: GateReport): string {
  return `${report.device}: ${report.modules.compiled} modules compiled, ${report.pipelines.created} pipelines created, ${report.pipelines.skipped} skipped (${report.skipped.map((s) => `${s.count} ${s.reason}`).join('; ')})`;
}

/**
 * `rcae doctor --kernels --json` in a process of its own: an adapter compiles hundreds of pipelines
 * to machine code and keeps much of that memory after its device is destroyed (2 GB of RSS on
 * lavapipe), which the suite's one process must not carry.
 */
function gate(args: string[] = []): GateReport {
  const run = rcae(['doctor', '--kernels', '--json', ...args]);
  assert.is(run.status, 0, run.stderr || run.stdout);
  const report = JSON.parse(run.stdout) as GateReport;
  console.log(`  compile gate, ${printed(report)}`);
  return report;
}

test("the null backend offers every feature the kernels use, with the GPU path's toggles", () => {
  for (const f of ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix', 'timestamp-query']) assert.ok(nullGpu.features.has(f), f);
  assert.equal([...nullGpu.toggles].sort(), ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia']);
  // It reports no fragment shapes: the gate names them.
  assert.is(nullGpu.fragment, undefined);
});

test('every pipeline compiles on the null backend, the tensor-core kernels for every fragment shape', () => {
  const cases = gateCases(nullGpu);
  const report = gate(['--backend', 'null']);
  assert.equal(report.failures, []);
  assert.equal(report.modules.failed + report.pipelines.failed, 0);
  assert.equal(report.fragments, [...GATE_FRAGMENTS]);
  assert.is(report.modules.skipped, 0, 'the null backend lacks no feature');
  assert.is(report.modules.compiled, new Set(cases.map((c) => c.request.shader.id)).size, 'every module, those of skipped pipelines too');
  assert.is(report.pipelines.created, cases.filter((c) => !c.missing && !c.exceeds).length);
  // Each family made it into real pipelines, not only into skipped cases.
  for (const kernel of ['fma', 'matrix-emulated', 'matrix 16x16x16/32', 'matrix 16x8x16/32', 'matrix 16x8x8/32', 'matrix 8x8x8/32', 'register', 'subgroup', 'linear', 'mse', 'hf', 'ssim', 'tanh', 'adamw', 'grad-norm', 'dropout-mask', 'activation-backward', 'mse-backward', 'accumulate', 'dropout-backward']) {
    assert.ok((report.created[kernel] ?? 0) > 0, `no pipeline created for ${kernel}`);
  }
  assert.ok(cases.some((c) => /^fma f16 /.test(c.what) && !c.exceeds), 'f16 FMA tiles');
  // Split-K reductions, vec4 and scalar loaders, transposed layers: each kind of shader is there.
  for (const id of [/^conv2d-gemm-reduce /, / nhwc-f16x4 /, / nchw-f32 nhwc-f16 /, /frag16x8x8\/32/]) {
    assert.ok(cases.some((c) => id.test(c.request.shader.id)), `no shader matching ${id}`);
  }
  assert.ok(cases.some((c) => c.request.constants.TRANSPOSED === 1));
  for (const kernel of ['batchnorm-forward', 'batchnorm-backward']) assert.ok((report.created[kernel] ?? 0) > 0, `no pipeline created for ${kernel}`);
  // What the null backend cannot make it says why: its 16 KiB of workgroup memory, and 128-wide subgroups.
  assert.ok(report.skipped.every((s) => /workgroup memory|largest subgroup/.test(s.reason)), JSON.stringify(report.skipped));
  const keys = cases.map((c) => pipelineKey(c.request.shader, c.request.constants));
  assert.is(new Set(keys).size, keys.length, 'each pipeline is listed once');
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
  const report = gate();
  assert.equal(report.failures, []);
  assert.ok(report.pipelines.created > 100);
  if (!gpu.features.has('chromium-experimental-subgroup-matrix')) {
    assert.ok(report.skipped.some((s) => s.reason === 'the device lacks chromium-experimental-subgroup-matrix'));
    assert.equal(report.fragments, []);
  }
});

test.run();
