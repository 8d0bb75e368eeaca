// The service answers an error by its kind (serve/http-error.ts), never by its class: a real HTTP
// server on 127.0.0.1 with the bundled model, whose score (the `measure` option) throws an error of
// the kind the request's first value names, answers each kind with the table's status and headers;
// a 500 keeps its message in the server's log. An HttpError keeps the status it names.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_KINDS, FormatError, InputError, InternalError, LimitError, UsageError, type ErrorKind, type RcaeError } from '../../src/errors.js';
import { GpuError } from '../../src/gpu/device.js';
import { encodeNpy } from '../../src/io/npy.js';
import { ClientClosedError, HttpError, STATUS_OF_KIND } from '../../src/serve/http-error.js';
import { QueueFullError } from '../../src/serve/batcher.js';
import { ModelUnavailableError } from '../../src/serve/model-holder.js';
import { postImage, startTestService, type TestService } from './support.js';

const test = suite('serve/error-status');
const SIZE = 3 * 128 * 128;

/** One error of each kind, as the code that meets each problem throws it. */
const THROWN: Record<ErrorKind, () => RcaeError> = {
  usage: () => new UsageError('probe: usage'),
  input: () => new InputError('probe: input'),
  format: () => new FormatError('probe: format'),
  limit: () => new LimitError('probe: limit'),
  device: () => new GpuError('probe: device'),
  internal: () => new InternalError('probe: internal'),
};

let service: TestService;

test.before(async () => {
  service = await startTestService({
    // A pass fails with the kind whose index its first value holds.
    measure: () => async (images) => {
      throw THROWN[ERROR_KINDS[Math.round(images[0])]]();
    },
  });
});

test.after(async () => {
  await service?.stop();
});

test('the table answers every kind: 400, 422, 422, 413, 503 with Retry-After, 500', () => {
  assert.equal(Object.keys(STATUS_OF_KIND).sort(), [...ERROR_KINDS].sort());
  assert.equal(Object.fromEntries(ERROR_KINDS.map((k) => [k, STATUS_OF_KIND[k].status])), { usage: 400, input: 422, format: 422, limit: 413, device: 503, internal: 500 });
});

for (const [index, kind] of ERROR_KINDS.entries()) {
  test(`a ${kind} error in a real request is answered ${STATUS_OF_KIND[kind].status}`, async () => {
    const body = new Float32Array(SIZE);
    body[0] = index;
    const r = await postImage(service.url, encodeNpy(body, [1, 3, 128, 128]));
    const { status, headers = {} } = STATUS_OF_KIND[kind];
    assert.is(r.status, status);
    assert.is(r.json.status, status);
    for (const [name, value] of Object.entries(headers)) assert.is(r.headers.get(name), value);
    const logged = service.logs.filter((l) => l.path === '/v1/detect' && l.status === status).at(-1);
    assert.ok(logged, `the access log has the ${status}`);
    if (kind === 'internal') {
      // The client learns whose fault it was; the log keeps what happened.
      assert.is(r.json.message, 'internal error (see the server log)');
      assert.is(logged!.message, `probe: ${kind}`);
    } else {
      assert.is(r.json.message, `probe: ${kind}`);
    }
  });
}

test('an HttpError answers the status it names, whatever its kind; its kind follows the status', () => {
  const cases: [HttpError, ErrorKind][] = [
    [new HttpError(400, 'x'), 'usage'],
    [new HttpError(404, 'x'), 'usage'],
    [new HttpError(408, 'x'), 'input'],
    [new HttpError(413, 'x'), 'limit'],
    [new HttpError(431, 'x'), 'limit'],
    [new HttpError(422, 'x'), 'input'],
    [new ClientClosedError('mid-request'), 'input'],
    [new HttpError(503, 'x'), 'device'],
    [new QueueFullError('x'), 'device'],
  ];
  for (const [err, kind] of cases) assert.is(err.kind, kind, `${err.status}`);
  assert.equal(new QueueFullError('x').headers, { 'Retry-After': '1' });
  assert.is(new ModelUnavailableError('x').kind, 'device');
});

test.run();
