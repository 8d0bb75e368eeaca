// Honest GPU timing: Dawn quantizes timestamp queries to 65,536 ns unless its timestamp_quantization
// toggle is off (OpenOptions.exactTimestamps, which bench and tune use); the probe reads which one a
// device does from the values it returns. DispatchTimer repeats a dispatch until every sample lasts its
// floor. Checked on the test adapter (lavapipe here) and, for the flags alone, Dawn's null backend.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { create } from 'webgpu';
import { Gpu } from '../../src/gpu/device.js';
import { PassTimestamps, probeTimestampQuantization, quantizationOf } from '../../src/gpu/timestamps.js';
import { MseKernel } from '../../src/kernels/mse/mse.js';
import { DispatchTimer } from '../../src/graph/dispatch-timing.js';
import { testGpu } from '../helpers/gpu.js';
import { requires } from '../helpers/skip.js';

const test = suite('gpu/timestamps');
const shared = await testGpu();
const noTimestamps = shared.features.has('timestamp-query') ? null : 'the adapter has no timestamp-query';

test('quantizationOf: all multiples of 2^16 is on, any other value off, all zero unknown', () => {
  assert.is(quantizationOf([65536n * 7n, 65536n * 9n, 0n]), 'on');
  assert.is(quantizationOf([65536n * 7n, 65536n * 9n + 1n]), 'off');
  assert.is(quantizationOf([0n, 0n]), 'unknown');
});

requires(test, noTimestamps, { ci: false })('a device opened with exactTimestamps returns unquantized timestamps; the default is quantized', async () => {
  assert.is(await probeTimestampQuantization(shared), 'on');
  assert.equal(shared.disabledToggles, []);
  const exact = await Gpu.open({ exactTimestamps: true });
  try {
    assert.equal(exact.disabledToggles, ['timestamp_quantization']);
    assert.is(await probeTimestampQuantization(exact), 'off');
  } finally {
    exact.destroy();
  }
});

test("Dawn's null backend takes the toggle with allow_unsafe_apis and opens a device with timestamp queries", async () => {
  const adapter = await create(['backend=null', 'enable-dawn-features=allow_unsafe_apis', 'disable-dawn-features=timestamp_quantization']).requestAdapter();
  assert.ok(adapter, 'a null-backend adapter');
  const device = await adapter!.requestDevice({ requiredFeatures: ['timestamp-query'] });
  try {
    device.pushErrorScope('validation');
    device.createQuerySet({ type: 'timestamp', count: 2 }).destroy();
    assert.is(await device.popErrorScope(), null);
  } finally {
    device.destroy();
  }
});

requires(test, noTimestamps, { ci: false })('DispatchTimer grows the repeat count until every sample lasts the floor', async () => {
  const gpu = await Gpu.open({ exactTimestamps: true });
  const buffers = [gpu.createBuffer(4 * 64, 'storage', 'a'), gpu.createBuffer(4 * 64, 'storage', 'b'), gpu.createBuffer(4, 'storage', 'out')];
  const dispatch = new MseKernel(gpu).bind({ batch: 1, perSample: 64, a: buffers[0], b: buffers[1], output: buffers[2] });
  const timer = new DispatchTimer(gpu, { floorMs: 5, samples: 3 });
  const once = new DispatchTimer(gpu, { floorMs: 0, samples: 2 });
  try {
    assert.is(timer.method, 'timestamp queries');
    const t = await timer.time(dispatch);
    // One 64-element reduction takes microseconds: reaching 5 ms takes many of them per sample.
    assert.ok(t.repeat > 1 && t.repeat <= timer.maxRepeat, `repeat ${t.repeat}`);
    assert.ok(t.minSampleMs >= 5, `shortest sample ${t.minSampleMs} ms at repeat ${t.repeat}`);
    assert.ok(t.ms > 0 && t.ms * t.repeat >= t.minSampleMs, JSON.stringify(t));
    assert.is((await once.time(dispatch)).repeat, 1);
  } finally {
    timer.destroy();
    once.destroy();
    dispatch.destroy();
    buffers.forEach((b) => b.destroy());
    gpu.destroy();
  }
});

requires(test, noTimestamps, { ci: false })('PassTimestamps refuses a pass count below 1', () => {
  assert.throws(() => new PassTimestamps(shared, 0), /bad pass count 0/);
});

test.run();
