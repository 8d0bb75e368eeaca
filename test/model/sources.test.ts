// loadModel/resolveWeights from every kind of source: path, file: and http: URLs (a real server on
// 127.0.0.1), Buffer, Uint8Array, ArrayBuffer, Blob, and nothing (the bundled default model).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultThresholds } from '../../src/detect/thresholds.js';
import { defaultThresholdsPath, readThresholds } from '../../src/detect/thresholds-file.js';
import { loadModel, resolveWeights, type ResolvedWeights } from '../../src/model.js';
import { DEFAULT_MODEL_PATH } from '../../src/node/node-platform.js';
import { testGpu } from '../helpers/gpu.js';
import { fixture } from '../helpers/paths.js';

const test = suite('model/sources');
const checkpoint = fixture('model', 'w8', 'model-published.ckpt');

function sameWeights(got: ResolvedWeights, want: ResolvedWeights, what: string): void {
  assert.equal(got.arch, want.arch, what);
  assert.equal([...got.params.keys()], [...want.params.keys()], what);
  for (const [name, data] of want.params) assert.ok(Buffer.from(got.params.get(name)!.buffer).equals(Buffer.from(data.buffer)), `${what}: ${name}`);
}

test('a checkpoint from a path, a file: URL, bytes in every form and a Blob resolves to the same weights', async () => {
  const want = await resolveWeights(checkpoint);
  const bytes = readFileSync(checkpoint);
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const cases: [string, Parameters<typeof resolveWeights>[0], string][] = [
    ['file: URL', pathToFileURL(checkpoint), pathToFileURL(checkpoint).href],
    ['file: URL string', pathToFileURL(checkpoint).href, pathToFileURL(checkpoint).href],
    ['Buffer', bytes, 'model bytes'],
    ['Uint8Array view', new Uint8Array(copy, 0, copy.byteLength), 'model bytes'],
    ['ArrayBuffer', copy, 'model bytes'],
    ['Blob', new Blob([bytes]), 'model blob'],
    ['File', new File([bytes], 'mine.ckpt'), 'mine.ckpt'],
  ];
  for (const [what, source, name] of cases) {
    const got = await resolveWeights(source);
    sameWeights(got, want, what);
    assert.is(got.path, name, what);
  }
});

test('an http: URL is fetched (a real server on 127.0.0.1); an HTTP error names the URL and status', async () => {
  const bytes = readFileSync(checkpoint);
  const server = createServer((req, res) => (req.url === '/m.ckpt' ? res.end(bytes) : res.writeHead(404).end()));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    sameWeights(await resolveWeights(`${base}/m.ckpt`), await resolveWeights(checkpoint), 'http');
    await resolveWeights(new URL(`${base}/missing.ckpt`)).then(
      () => assert.unreachable('a 404 must fail'),
      (err: Error) => assert.match(err.message, `${base}/missing.ckpt: HTTP 404`),
    );
  } finally {
    server.close();
  }
});

test('bad sources fail with one line naming them', async () => {
  await resolveWeights(new Uint8Array([1, 2, 3])).then(
    () => assert.unreachable(),
    (err: Error) => assert.match(err.message, /^model bytes: not a checkpoint/),
  );
  await resolveWeights(42 as unknown as string).then(
    () => assert.unreachable(),
    (err: Error) => assert.instance(err, TypeError),
  );
});

test('no source: the bundled default model, and defaultThresholds() its thresholds', async () => {
  const model = await loadModel(undefined, { gpu: await testGpu() });
  try {
    assert.is(model.weights.path, DEFAULT_MODEL_PATH);
    assert.is(model.parameterCount, 1_466_163);
  } finally {
    model.dispose();
  }
  assert.equal(await defaultThresholds(), readThresholds(defaultThresholdsPath()));
});

test.run();
