// Issue 19, item 6: a hostile client against `rcae serve` (bundled model, a child process, its
// --timeout-ms at 2 s so slow cases end quickly). Each case is bounded in time and asserts the status,
// the one-line message, that no path of the server's leaks into the answer, and that the next good
// request gets the right answer; at the end the server is alive, counted no 500, counted every
// client that left as 499, and its peak RSS stayed within 1.5 GiB. Targets: every case answered
// within 10 s with a 4xx naming the problem, or 503 + Retry-After under overload.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeNpy } from '../../src/io/npy.js';
import { DEFAULT_MODEL_PATH } from '../../src/node/node-platform.js';
import { repoRoot } from '../helpers/paths.js';
import { bytes, startServe, until, type ServeProcess } from '../serve/support.js';
import { npyOf, pngClaiming } from './build.js';

const test = suite('hostile/serve');
const TIMEOUT_MS = 2000;
/** Every case must be answered within this (the issue's target). */
const CASE_MS = 10_000;
const MAX_QUEUE = 16;
const MAX_BATCH = 8;
const MAX_BODY_MB = 16;
const GIB = 1 << 30;

let server: ServeProcess;
let port = 0;
const good = readFileSync(join(repoRoot, 'samples', 'scene-1.png'));
let goodAnswer: { error: number; label: string };
/** Paths of the server's machine that no answer may show. */
const secrets = [repoRoot.replace(/\/$/, ''), dirname(DEFAULT_MODEL_PATH), process.cwd()];

test.before(async () => {
  server = await startServe(['--timeout-ms', String(TIMEOUT_MS), '--max-queue', String(MAX_QUEUE), '--max-batch', String(MAX_BATCH), '--max-body-mb', String(MAX_BODY_MB)]);
  port = Number(new URL(server.url).port);
  const res = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: bytes(good) });
  goodAnswer = (await res.json()) as { error: number; label: string };
  assert.is(res.status, 200);
});

test.after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/** Bytes to send (each written before the next step), a pause, or a condition to wait for. */
type Step = Buffer | string | { waitMs: number } | { until: () => Promise<boolean>; what: string };

/**
 * Sends `steps` on a raw connection (text, bytes, pauses), then leaves the connection open
 * ('open'), closes its sending side ('half-close') or resets it ('reset'); resolves with the answer
 * read until the server closes (or `CASE_MS`).
 */
function exchange(steps: Step[], then: 'open' | 'half-close' | 'reset' = 'open'): Promise<RawAnswer | undefined> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(limit);
      socket.destroy();
      resolve(parseAnswer(Buffer.concat(received), Date.now() - started));
    };
    const limit = setTimeout(finish, CASE_MS);
    socket.on('data', (d) => received.push(d)).on('close', finish).on('error', () => {});
    socket.once('connect', async () => {
      for (const step of steps) {
        if (done) return;
        if (typeof step === 'object' && 'waitMs' in step) await new Promise((r) => setTimeout(r, step.waitMs));
        else if (typeof step === 'object' && 'until' in step) await until(step.until, CASE_MS, step.what);
        else await new Promise((r) => socket.write(step, r));
      }
      if (then === 'half-close') socket.end();
      if (then === 'reset') socket.resetAndDestroy();
    });
  });
}

/** An HTTP/1.1 answer (Content-Length or chunked); undefined when nothing came back. */
function parseAnswer(raw: Buffer, ms: number): RawAnswer | undefined {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let body = text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    for (let at = 0; ; ) {
      const eol = body.indexOf('\r\n', at);
      const size = parseInt(body.slice(at, eol), 16);
      if (!size) break;
      out += body.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
    body = out;
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8'), ms };
}

/** The answer is `status` with one printable line matching `message`, shows no server path, came in time. */
function answered(answer: RawAnswer | { status: number; body: string; ms: number } | undefined, status: number, message: RegExp): void {
  assert.ok(answer, 'an answer');
  assert.is(answer!.status, status, answer!.body);
  const json = JSON.parse(answer!.body) as { status: number; message: string };
  assert.is(json.status, status);
  assert.match(json.message, message);
  assert.not.match(json.message, /[\x00-\x1f\x7f-\x9f]/, 'one printable line');
  for (const secret of secrets) assert.not.ok(answer!.body.includes(secret), `the answer shows ${secret}: ${answer!.body}`);
  assert.ok(answer!.ms < CASE_MS, `answered after ${answer!.ms} ms`);
}

async function post(path: string, body: Uint8Array, type = 'application/octet-stream'): Promise<{ status: number; body: string; ms: number; headers: Headers }> {
  const started = Date.now();
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: bytes(body), headers: { 'content-type': type } });
  return { status: res.status, body: await res.text(), ms: Date.now() - started, headers: res.headers };
}

/** The server is alive and the next good request gets the same answer as before. */
async function nextGoodRequestRight(): Promise<void> {
  const res = await post('/v1/detect', good);
  assert.is(res.status, 200, res.body);
  const answer = JSON.parse(res.body) as { error: number; label: string };
  assert.equal([answer.error, answer.label], [goodAnswer.error, goodAnswer.label]);
}

const request = (path: string, headers: Record<string, string | number>) =>
  `POST ${path} HTTP/1.1\r\nHost: rcae\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

test('slow headers and a trickled body get 408 at the timeout; a lying Content-Length too', async () => {
  answered(await exchange(['POST /v1/detect HTTP/1.1\r\nHost: rcae\r\n', { waitMs: 500 }, 'X-Slow: 1\r\n']), 408, /request headers did not arrive within \d+ ms/);
  await nextGoodRequestRight();
  const trickle: Step[] = [request('/v1/detect', { 'Content-Length': 100_000 })];
  for (let i = 0; i < 30; i++) trickle.push(good.subarray(i * 10, i * 10 + 10), { waitMs: 100 });
  answered(await exchange(trickle), 408, /^the request body did not arrive within 2000 ms$/);
  await nextGoodRequestRight();
  answered(await exchange([request('/v1/detect', { 'Content-Length': good.length + 1000 }), good]), 408, /request body did not arrive/);
  await nextGoodRequestRight();
});

test('a body shorter than its Content-Length, its sender done sending, gets 400', async () => {
  const answer = await exchange([request('/v1/detect', { 'Content-Length': good.length + 1000 }), good], 'half-close');
  answered(answer, 400, /^the body ended before the length its Content-Length \(or chunked encoding\) announced$/);
  assert.ok(answer!.ms < TIMEOUT_MS, `at once, not at the timeout: ${answer!.ms} ms`);
  await nextGoodRequestRight();
});

test('malformed HTTP: a garbage request line gets 400, headers over the limit 431, in one JSON line', async () => {
  answered(await exchange(['NOT HTTP AT ALL\r\n\r\n']), 400, /^malformed HTTP request \(HPE_/);
  answered(await exchange([`GET /healthz HTTP/1.1\r\nHost: rcae\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]), 431, /request headers are too large/);
  await nextGoodRequestRight();
});

test('clients that leave mid-body or while queued are counted as 499, never 500, and leave nothing queued', async () => {
  const closed = async () => (await metricCount('/v1/detect', '499')) + (await metricCount('/v1/detect/batch', '499'));
  const before = await closed();
  const linesBefore = server.lines.length;
  // Mid-body: a reset after half the image.
  assert.is(await exchange([request('/v1/detect', { 'Content-Length': good.length }), good.subarray(0, good.length >> 1), { waitMs: 100 }], 'reset'), undefined);
  // Mid-batch: the request has arrived whole and waits in the queue; the client goes before its answer.
  const tensors = new Float32Array(MAX_BATCH * 3 * 128 * 128).fill(0.1);
  const npy = Buffer.from(encodeNpy(tensors, [MAX_BATCH, 3, 128, 128]));
  const queued = { until: async () => new RegExp(`^rcae_queue_depth ${MAX_BATCH}$`, 'm').test(await metrics()), what: 'the second batch to wait in the queue' };
  // The reset follows the metrics poll that saw the batch queued by a few milliseconds; on a loaded
  // machine the first batch can end and the second be answered in between, so the client did not
  // leave while queued: that is not the case under test, and it is tried again (3 times at most).
  let answer: Awaited<ReturnType<typeof exchange>>;
  for (let attempt = 1; ; attempt++) {
    const busy = post('/v1/detect/batch', npy);
    answer = await exchange([request('/v1/detect/batch', { 'Content-Length': npy.length }), npy, queued], 'reset');
    assert.is((await busy).status, 200);
    if (answer === undefined || attempt === 3) break;
    assert.is(answer.status, 200, answer.body);
    await until(async () => (await metrics()).includes('rcae_queue_depth 0'), CASE_MS, 'an empty queue');
  }
  assert.is(answer, undefined);
  await until(async () => (await closed()) >= before + 2, CASE_MS, 'two clients counted as 499')
    .catch(async (err: Error) => assert.unreachable(`${err.message}: ${(await metrics()).split('\n').filter((l) => l.startsWith('rcae_http_requests_total')).join('; ')}`));
  await until(async () => (await metrics()).includes('rcae_queue_depth 0'), CASE_MS, 'an empty queue');
  const left = server.lines.slice(linesBefore).filter((l) => l.client_closed === true);
  assert.ok(left.length >= 2, JSON.stringify(left));
  await nextGoodRequestRight();
});

test('image and .npy bombs get 422 or 413 naming the problem', async () => {
  answered(await post('/v1/detect', pngClaiming(60_000, 60_000)), 422, /^request body: cannot decode image: .*(pixel limit|exceeds|side longer)/i);
  const side = 8193;
  const bomb = await sharp({ create: { width: side, height: side, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
  answered(await post('/v1/detect', bomb), 422, /pixel limit|exceeds/i);
  // A header claiming 10^9 samples over a few bytes of data.
  answered(await post('/v1/detect/batch', npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 3, 128, 128), }", new Uint8Array(64))), 422, /needs more than the \d+ data bytes present/);
  const many = npyOf(`{'descr': '<f4', 'fortran_order': False, 'shape': (${MAX_QUEUE + 1}, 3, 128, 128), }`, new Uint8Array((MAX_QUEUE + 1) * 3 * 128 * 128 * 4));
  answered(await post('/v1/detect/batch', many), 413, new RegExp(`${MAX_QUEUE + 1} samples; at most ${MAX_QUEUE} per request`));
  await nextGoodRequestRight();
});

test('traversal in URLs finds no file: 404 naming the route, no path of the server', async () => {
  // Sent as they are (a client library would resolve the dots first).
  for (const path of ['/../../etc/passwd', '/v1/detect/../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/v1/..%2f..%2fetc%2fpasswd', `/${'..%2F'.repeat(40)}etc/shadow`, '//etc/passwd', '/models/default.safetensors']) {
    answered(await exchange([`GET ${path} HTTP/1.1\r\nHost: rcae\r\nConnection: close\r\n\r\n`]), 404, /^no route \S+ \(see \/openapi\.json\)$/);
  }
  const model = (await (await fetch(`${server.url}/v1/model`)).json()) as { model: { file: string; sha256: string; path?: string } };
  assert.equal(Object.keys(model.model), ['file', 'sha256']);
  assert.is(model.model.file, 'default.safetensors');
  assert.match(model.model.sha256, /^[0-9a-f]{64}$/);
  await nextGoodRequestRight();
});

test('malformed multipart bodies get 400 (413 past --max-queue parts), naming what is wrong', async () => {
  const part = (name: string) => `--b\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\n\r\n`;
  const cases: [string, Buffer, number, RegExp][] = [
    ['multipart/form-data', Buffer.from('x'), 400, /without a boundary/],
    ['multipart/form-data; boundary=b', Buffer.from('no delimiter at all'), 400, /boundary not found/],
    ['multipart/form-data; boundary=b', Buffer.concat([Buffer.from(part('a.png')), good]), 400, /no closing boundary/],
    ['multipart/form-data; boundary=b', Buffer.from('--bXX'), 400, /malformed boundary line/],
    ['multipart/form-data; boundary=b', Buffer.from('--b\r\nContent-Disposition: form-data'), 400, /part headers never end/],
    ['multipart/form-data; boundary=b', Buffer.from('--b--\r\n'), 422, /holds no parts/],
    ['multipart/form-data; boundary=b', Buffer.concat([...Array.from({ length: MAX_QUEUE + 1 }, (_, i) => Buffer.from(`${part(`p${i}.png`)}x\r\n`)), Buffer.from('--b--\r\n')]), 413, new RegExp(`more than ${MAX_QUEUE} parts`)],
  ];
  for (const [type, body, status, message] of cases) answered(await post('/v1/detect/batch', body, type), status, message);
  // A part's file name with control characters is repeated escaped, on one line.
  const named = Buffer.concat([Buffer.from(part('evil\x1b[2J\r\nname.png')), Buffer.from('not an image'), Buffer.from('\r\n--b--\r\n')]);
  answered(await post('/v1/detect/batch', named, 'multipart/form-data; boundary=b'), 422, /^evil\\x1b\[2J\\r\\nname\.png: cannot decode image/);
  await nextGoodRequestRight();
});

test('control characters in query values are escaped in the one-line message', async () => {
  const res = await post('/v1/detect?level=a%0D%0AX-Injected:%201%1B[2J', good);
  answered(res, 400, /^\?level=a\\r\\nX-Injected: 1\\x1b\[2J: /);
  assert.is(res.headers.get('x-injected'), null);
  await nextGoodRequestRight();
});

test(`a burst of 40 requests over --max-queue ${MAX_QUEUE}: 200 with the right answer or 503 with Retry-After, nothing else`, async () => {
  const answers = await Promise.all(Array.from({ length: 40 }, () => post('/v1/detect', good)));
  const refused = answers.filter((a) => a.status === 503);
  for (const a of answers) {
    if (a.status === 503) {
      answered(a, 503, /^the queue holds \d+ of at most 16 samples; 1 more do not fit$/);
      assert.is(a.headers.get('retry-after'), '1');
    } else {
      assert.is(a.status, 200, a.body);
      assert.is((JSON.parse(a.body) as { error: number }).error, goodAnswer.error);
    }
  }
  console.log(`  burst: ${answers.length - refused.length} answered, ${refused.length} refused with 503`);
  assert.ok(refused.length > 0, 'some requests found the queue full');
  assert.ok(answers.length - refused.length >= MAX_QUEUE, 'the queue was used to its bound');
  await nextGoodRequestRight();
});

test(`ten uploads of ${MAX_BODY_MB} MiB aborted halfway, five slow ones beside them: answered, and the server's peak RSS within 1.5 GiB`, async () => {
  const size = MAX_BODY_MB << 20;
  const half = Buffer.alloc(size / 2, 7);
  const aborted = Array.from({ length: 10 }, () => exchange([request('/v1/detect', { 'Content-Length': size }), half, { waitMs: 200 }], 'reset'));
  const slow = Array.from({ length: 5 }, () => exchange([request('/v1/detect', { 'Content-Length': size }), half.subarray(0, 1000), { waitMs: 500 }, half.subarray(0, 1000)]));
  await Promise.all(aborted);
  for (const answer of await Promise.all(slow)) {
    assert.ok(answer, 'a slow upload is answered');
    // 408 at its timeout, or 503 when the bytes of the bodies being read were over their budget.
    assert.ok(answer!.status === 408 || (answer!.status === 503 && answer!.headers['retry-after'] === '1'), `${answer!.status} ${answer!.body}`);
  }
  await nextGoodRequestRight();
});

test('after every case: alive, no 500 counted, peak RSS within 1.5 GiB', async () => {
  assert.is((await fetch(`${server.url}/healthz`)).status, 200);
  const text = await metrics();
  assert.not.match(text, /status="500"/);
  const peak = peakRss(server.child.pid!);
  console.log(`  the server's peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(peak <= 1.5 * GIB, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
});

async function metrics(): Promise<string> {
  return (await fetch(`${server.url}/metrics`)).text();
}

async function metricCount(route: string, status: string): Promise<number> {
  const m = new RegExp(`^rcae_http_requests_total\\{route="${route.replace(/\//g, '\\/')}",status="${status}"\\} (\\d+)$`, 'm').exec(await metrics());
  return m ? Number(m[1]) : 0;
}

/** The peak RSS of `rcae serve`'s worker process (the child of the launcher `pid`), from /proc. */
function peakRss(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const worker = children.length > 0 ? children[0] : pid;
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${worker}/status`, 'utf8'))![1];
  return Number(kib) * 1024;
}

test.run();
