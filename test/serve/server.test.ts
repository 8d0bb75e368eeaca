// The service on a real HTTP server on 127.0.0.1 (random port) with the bundled model: every route,
// results equal to the model run directly, batching that never mixes up results, the limits (413,
// 415, 422, 400, 404, 405), a full queue and timeouts (503 + Retry-After), device loss and recovery,
// the OpenAPI document against the real routes, and the JSON access log. What a hostile client
// does (slow or lying uploads, disconnects, bombs, malformed HTTP) is in test/hostile/serve.test.ts.
import { request } from 'node:http';
import { basename } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadImageTensor, MAX_INPUT_PIXELS } from '../../src/image/preprocess.js';
import { encodeNpy } from '../../src/io/npy.js';
import { loadModel } from '../../src/model.js';
import { DEFAULT_MODEL_PATH } from '../../src/node/node-platform.js';
import { sha256File } from '../../src/node/sha256.js';
import { ROUTES } from '../../src/serve/routes.js';
import { SEED } from '../helpers/random.js';
import { bytes, distinctPngs, postImage, startTestService, until, type TestService } from './support.js';

const test = suite('serve');
const SIZE = 3 * 128 * 128;

let service: TestService;
let images: Buffer[];
let expected: number[];

test.before(async () => {
  service = await startTestService();
  images = await distinctPngs(48);
  // One at a time, straight through the model: what every answer must equal.
  const model = service.holder.model;
  expected = [];
  for (const png of images) expected.push((await model.reconstructionError(await loadImageTensor(png)))[0]);
});

test.after(async () => {
  await service?.stop();
});

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1e-3, Math.abs(b));

function multipart(parts: { name: string; data: Buffer }[]): { body: Buffer; type: string } {
  const boundary = `rcae-${SEED}`;
  const chunks = parts.flatMap((p) => [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${p.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`), p.data, Buffer.from('\r\n')]);
  return { body: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

test(`detect, batch (multipart and .npy), model, health and metrics answer with the model's own results (seed ${SEED})`, async () => {
  const one = await postImage(service.url, images[0]);
  assert.is(one.status, 200);
  assert.equal(Object.keys(one.json), ['error', 'threshold', 'level', 'label']);
  assert.ok(near(one.json.error, expected[0]), `${one.json.error} vs ${expected[0]}`);
  assert.is(one.json.level, 'balanced');
  assert.is(one.json.label, one.json.error > one.json.threshold ? 'FAKE' : 'REAL');

  const strict = await postImage(service.url, images[1], '?level=strict&reconstruction=1');
  assert.is(strict.json.level, 'strict');
  const png = await sharp(Buffer.from(strict.json.reconstruction_png, 'base64')).metadata();
  assert.is(png.format, 'png');
  assert.is(png.width, 128 + 2 * 4, 'one column of 128 pixels between gaps');
  const numeric = await postImage(service.url, images[1], '?level=1e9');
  assert.is(numeric.json.label, 'REAL');

  const mp = multipart(images.slice(0, 5).map((data, i) => ({ name: `img-${i}.png`, data })));
  const batch = await fetch(`${service.url}/v1/detect/batch`, { method: 'POST', body: bytes(mp.body), headers: { 'content-type': mp.type } });
  assert.is(batch.status, 200);
  const rows = (await batch.json()) as { input: string; error: number }[];
  assert.equal(rows.map((r) => r.input), ['img-0.png', 'img-1.png', 'img-2.png', 'img-3.png', 'img-4.png']);
  rows.forEach((r, i) => assert.ok(near(r.error, expected[i]), `row ${i}`));

  const tensors = await Promise.all(images.slice(0, 3).map((p) => loadImageTensor(p)));
  const stacked = new Float32Array(3 * SIZE);
  tensors.forEach((t, i) => stacked.set(t, i * SIZE));
  const npy = await fetch(`${service.url}/v1/detect/batch`, { method: 'POST', body: bytes(encodeNpy(stacked, [3, 3, 128, 128])) });
  const npyRows = (await npy.json()) as { input: string; error: number }[];
  assert.equal(npyRows.map((r) => r.input), ['request body#0', 'request body#1', 'request body#2']);
  npyRows.forEach((r, i) => assert.ok(near(r.error, expected[i]), `npy row ${i}`));
  // Fail closed: a sample whose error is not finite is INVALID with a reason, never REAL.
  const nan = await fetch(`${service.url}/v1/detect/batch?level=1e9`, { method: 'POST', body: bytes(encodeNpy(new Float32Array(SIZE).fill(NaN), [1, 3, 128, 128])) });
  const [nanRow] = (await nan.json()) as { error: number | null; label: string; reason: string }[];
  assert.equal([nanRow.error, nanRow.label], [null, 'INVALID']);
  assert.match(nanRow.reason, /^reconstruction error is NaN/);

  assert.equal(await (await fetch(`${service.url}/healthz`)).json(), { status: 'alive' });
  assert.equal(await (await fetch(`${service.url}/readyz`)).json(), { status: 'ready' });
  const model = (await (await fetch(`${service.url}/v1/model`)).json()) as Record<string, any>;
  assert.is(model.parameter_count, service.holder.model.parameterCount);
  // The model file by name and content, not by where it lies on the server.
  assert.equal(model.model, { file: basename(DEFAULT_MODEL_PATH), sha256: await sha256File(DEFAULT_MODEL_PATH) });
  assert.is(model.precision, 'f32');
  assert.is(model.thresholds.balanced, one.json.threshold);
  assert.type(model.adapter.description, 'string');
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  for (const name of ['rcae_http_requests_total', 'rcae_http_request_duration_seconds_bucket', 'rcae_batch_size_bucket', 'rcae_queue_depth', 'rcae_gpu_forward_seconds_bucket', 'rcae_device_losses_total', 'process_resident_memory_bytes']) {
    assert.match(metrics, new RegExp(`^${name}`, 'm'), name);
  }
  assert.match(metrics, /rcae_http_requests_total\{route="\/v1\/detect",status="200"\} 3/);

  const access = service.logs.filter((l) => l.path === '/v1/detect');
  assert.is(access.length, 3);
  for (const line of access) {
    assert.is(line.method, 'POST');
    assert.is(line.status, 200);
    assert.type(line.ms, 'number');
    assert.type(line.time, 'string');
  }
});

test('many concurrent distinct images: each answer is its own image, in shared passes', async () => {
  const passCount = async () => (await service.metrics.batchSize.get()).values.find((v) => v.metricName === 'rcae_batch_size_count')?.value ?? 0;
  const before = await passCount();
  const answers = await Promise.all(images.map((png) => postImage(service.url, png)));
  answers.forEach((a, i) => {
    assert.is(a.status, 200);
    assert.ok(near(a.json.error, expected[i]), `image ${i}: ${a.json.error}, expected ${expected[i]}`);
  });
  const passes = (await passCount()) - before;
  assert.ok(passes < images.length, `${images.length} requests in ${passes} passes: some must share one`);
});

test('limits: 413 over the body size, 422 with the reason, 415, 400, 404, 405', async () => {
  const big = await fetch(`${service.url}/v1/detect`, { method: 'POST', body: new Uint8Array((4 << 20) + 1) });
  assert.is(big.status, 413);
  const garbage = await postImage(service.url, Buffer.from('not an image at all'));
  assert.is(garbage.status, 422);
  assert.match(garbage.json.message, /request body: cannot decode image/);
  // A few KB of PNG that would decode to more pixels than the CLI accepts.
  const side = Math.ceil(Math.sqrt(MAX_INPUT_PIXELS)) + 8;
  const bomb = await sharp({ create: { width: side, height: side, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
  const tooLarge = await postImage(service.url, bomb);
  assert.is(tooLarge.status, 422);
  assert.match(tooLarge.json.message, /pixel limit|exceeds/i);
  const badNpy = await postImage(service.url, encodeNpy(new Float32Array(2 * SIZE), [2, 3, 128, 128]));
  assert.is(badNpy.status, 413);
  const wrongShape = await postImage(service.url, encodeNpy(new Float32Array(12), [1, 3, 2, 2]));
  assert.is(wrongShape.status, 422);
  assert.match(wrongShape.json.message, /expected float32 \[N,3,128,128\]/);
  const empty = await postImage(service.url, Buffer.alloc(0));
  assert.is(empty.status, 422);
  const unsupported = await fetch(`${service.url}/v1/detect/batch`, { method: 'POST', body: bytes(images[0]), headers: { 'content-type': 'image/png' } });
  assert.is(unsupported.status, 415);
  assert.is((await postImage(service.url, images[0], '?level=nonsense')).status, 400);
  assert.is((await postImage(service.url, images[0], '?reconstruction=yes')).status, 400);
  assert.is((await fetch(`${service.url}/v2/nothing`)).status, 404);
  const wrongMethod = await fetch(`${service.url}/v1/detect`);
  assert.is(wrongMethod.status, 405);
  assert.is(wrongMethod.headers.get('allow'), 'POST');
});

test('the OpenAPI document lists exactly the routes, and each documented operation answers a documented status', async () => {
  const doc = (await (await fetch(`${service.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  assert.is(doc.openapi, '3.1.0');
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
  assert.equal(documented, ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const res = await fetch(`${service.url}${path}`, method === 'post' ? { method: 'POST', body: bytes(images[0]), headers: { 'content-type': 'application/octet-stream' } } : {});
      await res.arrayBuffer();
      assert.ok(String(res.status) in op.responses, `${method} ${path} answered ${res.status}, documented: ${Object.keys(op.responses)}`);
    }
  }
});

test.run();

// Services of their own: a tiny queue held by a long delay, and a device to lose.
const edge = suite('serve edges');

edge('a full queue answers 503 with Retry-After; a request past its timeout gets 503 and leaves the queue', async () => {
  const held = await startTestService({ maxQueue: 4, maxBatch: 4, maxDelayMs: 3000 });
  try {
    const npy = (n: number) => encodeNpy(new Float32Array(n * SIZE).fill(0.5), [n, 3, 128, 128]);
    const first = fetch(`${held.url}/v1/detect/batch`, { method: 'POST', body: bytes(npy(3)) });
    await until(() => held.batcher.depth === 3, 5000, 'three queued samples');
    const refused = await fetch(`${held.url}/v1/detect/batch`, { method: 'POST', body: bytes(npy(2)) });
    assert.is(refused.status, 503);
    assert.is(refused.headers.get('retry-after'), '1');
    assert.match(((await refused.json()) as { message: string }).message, /queue holds 3 of at most 4 samples; 2 more do not fit/);
    assert.is((await first).status, 200);
  } finally {
    await held.stop();
  }
  const slow = await startTestService({ maxDelayMs: 5000, requestTimeoutMs: 300 });
  try {
    const [png] = await distinctPngs(1);
    const late = await postImage(slow.url, png);
    assert.is(late.status, 503);
    assert.match(late.json.message, /longer than 300 ms/);
    assert.is(slow.batcher.depth, 0, 'the timed-out request left the queue');
  } finally {
    await slow.stop();
  }
});

edge('device loss: queued and in-flight requests get 503, readyz fails until the model is re-created, then serving resumes', async () => {
  // Re-opening waits for the test's go-ahead, so the window without a model can be observed.
  let opens = 0;
  let release: () => void = () => {};
  const open = async () => {
    if (opens++ > 0) await new Promise<void>((resolve) => (release = resolve));
    return loadModel(DEFAULT_MODEL_PATH);
  };
  const lossy = await startTestService({ open, maxDelayMs: 3000, maxBodyBytes: 16 << 20 });
  try {
    const [png] = await distinctPngs(1);
    const before = await postImage(lossy.url, png);
    // Queued: held by the delay when the device goes.
    const waiting = postImage(lossy.url, png);
    await until(() => lossy.batcher.depth === 1, 5000, 'a queued request');
    lossy.holder.model.gpu.device.destroy();
    const lostWaiting = await waiting;
    assert.is(lostWaiting.status, 503);
    assert.match(lostWaiting.json.message, /device was lost/);
    const ready = await fetch(`${lossy.url}/readyz`);
    assert.is(ready.status, 503);
    assert.equal(await ready.json(), { status: 'lost' });
    assert.is((await fetch(`${lossy.url}/v1/model`)).status, 503);
    const meanwhile = await postImage(lossy.url, png);
    assert.is(meanwhile.status, 503);
    assert.is(meanwhile.headers.get('retry-after'), '5');
    assert.is((await fetch(`${lossy.url}/healthz`)).status, 200, 'the process stays alive');
    release();
    await lossy.holder.recovered();
    assert.is((await fetch(`${lossy.url}/readyz`)).status, 200);
    const after = await postImage(lossy.url, png);
    assert.is(after.status, 200);
    assert.is(after.json.error, before.json.error, 'the re-created model gives the same answer');

    // In flight: a 64-image pass is on the GPU when the device goes.
    const tensors = new Float32Array(64 * SIZE).fill(0.25);
    const inFlight = fetch(`${lossy.url}/v1/detect/batch`, { method: 'POST', body: bytes(encodeNpy(tensors, [64, 3, 128, 128])) });
    await until(() => lossy.batcher.busy, 10_000, 'the pass to start');
    lossy.holder.model.gpu.device.destroy();
    const res = await inFlight;
    assert.is(res.status, 503);
    assert.match(((await res.json()) as { message: string }).message, /device was lost/);
    release();
    await lossy.holder.recovered();
    assert.is((await postImage(lossy.url, png)).status, 200);
    const metrics = await (await fetch(`${lossy.url}/metrics`)).text();
    assert.match(metrics, /^rcae_device_losses_total 2$/m);
    assert.is(lossy.logs.filter((l) => l.event === 'device-recreated').length, 2);
  } finally {
    await lossy.stop();
  }
});

edge('concurrent uploads share one byte budget: past it, 503 instead of buffering more', async () => {
  const maxBodyBytes = 64 << 10;
  const small = await startTestService({ maxBodyBytes });
  const port = Number(new URL(small.url).port);
  try {
    // Eight bodies' worth may be read at once: nine uploads of 60 KiB, each held open before its end.
    const uploads = Array.from({ length: 9 }, () => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/detect', headers: { 'content-length': String(61 << 10) } });
      const answered = new Promise<number>((resolve, reject) => req.on('response', (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject));
      req.write(Buffer.alloc(60 << 10, 7));
      return { req, answered };
    });
    const refused = await Promise.race(uploads.map((u) => u.answered));
    assert.is(refused, 503);
    for (const u of uploads) u.req.end(Buffer.alloc(1 << 10, 7));
    const statuses = (await Promise.allSettled(uploads.map((u) => u.answered))).map((r) => (r.status === 'fulfilled' ? r.value : 0));
    assert.is(statuses.filter((s) => s === 503).length, 1, `statuses ${statuses}`);
    assert.is(statuses.filter((s) => s === 422).length, 8, 'the others were read whole and found not to be images');
  } finally {
    await small.stop();
  }
});

edge('multipart: too many parts is 413, a malformed body 400', async () => {
  const tiny = await startTestService({ maxQueue: 2, maxBatch: 2 });
  try {
    const [png] = await distinctPngs(1);
    const three = multipart([0, 1, 2].map((i) => ({ name: `p${i}.png`, data: png })));
    const tooMany = await fetch(`${tiny.url}/v1/detect/batch`, { method: 'POST', body: bytes(three.body), headers: { 'content-type': three.type } });
    assert.is(tooMany.status, 413);
    const broken = await fetch(`${tiny.url}/v1/detect/batch`, { method: 'POST', body: bytes(three.body.subarray(0, 200)), headers: { 'content-type': three.type } });
    assert.is(broken.status, 400);
    assert.match(((await broken.json()) as { message: string }).message, /multipart body/);
  } finally {
    await tiny.stop();
  }
});

edge('--show-model-path: /v1/model adds the model file\'s path for operators', async () => {
  const shown = await startTestService({ showModelPath: true });
  try {
    const model = (await (await fetch(`${shown.url}/v1/model`)).json()) as { model: { file: string; path: string } };
    assert.is(model.model.path, DEFAULT_MODEL_PATH);
    assert.is(model.model.file, basename(DEFAULT_MODEL_PATH));
  } finally {
    await shown.stop();
  }
});

edge.run();
