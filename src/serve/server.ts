// The HTTP service on node:http: dispatch on the route table, one JSON access-log line per request,
// a timeout per request, errors as one-line JSON answers, and a graceful stop (refuse new requests,
// finish those in flight within a bound, free the model).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import type { Duplex } from 'node:stream';
import { DecodeBudget, disableDecodeCache } from '../image/preprocess.js';
import { quotedMessage } from '../printable.js';
import type { Model } from '../model.js';
import { Batcher } from './batcher.js';
import { answerOnSocket, connectionFault, type EndRequest } from './connection-faults.js';
import { answerOf, CLIENT_CLOSED, ClientClosedError, HttpError } from './http-error.js';
import { serviceMetrics, type ServiceMetrics } from './prometheus.js';
import { ModelHolder, type ScoreMeasure } from './model-holder.js';
import { openapiDocument } from './openapi.js';
import { BodyBudget } from './request-body.js';
import { ROUTES, type ModelFile, type Reply, type ServiceContext, type ThresholdChoice } from './routes.js';

export interface ServeOptions {
  /** Opens the model (again after a device loss). */
  open: () => Promise<Model>;
  /** The detection score a response's `error` holds (reported by /v1/model); default mse. */
  score?: string;
  /** How that score is computed for an opened model; default: the reconstruction MSE. */
  measure?: ScoreMeasure;
  thresholds: ThresholdChoice;
  host: string;
  /** 0: any free port. */
  port: number;
  maxBatch: number;
  maxDelayMs: number;
  /** Samples waiting for the GPU beyond which requests get 503. */
  maxQueue: number;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  /** How long a stop waits for requests in flight before closing their connections. */
  shutdownTimeoutMs: number;
  /** Bytes that decoding request images may hold at once (default DEFAULT_DECODE_BUDGET_BYTES). */
  decodeBudgetBytes?: number;
  /** /v1/model shows the model file's path on this machine, not only its name and SHA-256. */
  showModelPath?: boolean;
  /** Receives each access-log and event line (JSON, no newline). */
  log: (line: string) => void;
  version: string;
  /** First delay between attempts to re-create a lost device (default 1 s). */
  retryMs?: number;
}

export interface Service {
  url: string;
  holder: ModelHolder;
  batcher: Batcher;
  metrics: ServiceMetrics;
  /** Stops accepting, finishes what is in flight (within shutdownTimeoutMs), frees the model. */
  stop(): Promise<void>;
}

/** Concurrent uploads may hold this many bodies' worth of bytes in total. */
const BODY_BUDGET_BODIES = 8;

/** An error as a one-line JSON answer, its status chosen by answerOf (http-error.ts: by kind, or the HttpError's own). */
function errorReply(err: unknown): Reply & { internal?: string } {
  const { status, message, headers, internal } = answerOf(err);
  const reply: Reply = { status, type: 'application/json', body: JSON.stringify({ status, message: oneLine(message) }), headers };
  return internal === undefined ? reply : { ...reply, internal: oneLine(internal) };
}

/** Messages may repeat what the client sent (a query value, a part's file name): one printable line, bounded. */
const oneLine = (message: string) => quotedMessage(message, 500);

/** How long after our own timeout Node's (the backstop for a request whose handler is stuck reading) fires. */
const NODE_TIMEOUT_SLACK_MS = 1000;

/** The model file's name and SHA-256 (hashed once at startup), and its path when asked. */
async function modelFile(path: string, showPath: boolean): Promise<ModelFile> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { file: basename(path), sha256: hash.digest('hex'), ...(showPath ? { path } : {}) };
}

export async function startService(options: ServeOptions): Promise<Service> {
  // Each body is decoded once; libvips' cache of recent operations would only grow the process.
  disableDecodeCache();
  const log = (record: Record<string, unknown>) => options.log(JSON.stringify({ time: new Date().toISOString(), ...record }));
  let batcher: Batcher | undefined;
  let metrics: ServiceMetrics | undefined;
  const holder = new ModelHolder({
    open: options.open,
    measure: options.measure,
    maxBatch: options.maxBatch,
    log,
    retryMs: options.retryMs,
    onLoss: () => metrics?.deviceLosses.inc(),
    onUnavailable: (err) => batcher?.failQueued(err),
  });
  await holder.start();
  const shape = { channels: holder.model.arch.inChannels, size: holder.model.arch.imageSize };
  metrics = serviceMetrics(() => batcher?.depth ?? 0, () => (holder.state === 'ready' ? holder.model.gpu.liveBuffers : 0));
  const observed = metrics;
  batcher = new Batcher(holder.score, { maxBatch: options.maxBatch, maxDelayMs: options.maxDelayMs, maxQueue: options.maxQueue, sampleSize: shape.channels * shape.size * shape.size }, (samples, seconds) => {
    observed.batchSize.observe(samples);
    observed.forwardSeconds.observe(seconds);
  });
  const service: ServiceContext = {
    holder,
    batcher,
    metrics,
    thresholds: options.thresholds,
    score: options.score ?? 'mse',
    shape,
    maxBodyBytes: options.maxBodyBytes,
    maxImagesPerRequest: options.maxQueue,
    bodyBudget: new BodyBudget(options.maxBodyBytes * BODY_BUDGET_BODIES),
    decodeBudget: new DecodeBudget(options.decodeBudgetBytes),
    model: await modelFile(holder.model.weights.path, options.showModelPath ?? false),
    openapi: openapiDocument(ROUTES, options.version),
  };

  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  /** The request being answered on each connection, for the parser's errors about that connection. */
  const requestOn = new WeakMap<Duplex, { req: IncomingMessage; end: EndRequest }>();

  /** Counts and logs one answered request (499 when its client left before the answer). */
  function record(routeName: string, status: number, started: number, line: Record<string, unknown>): void {
    const ms = performance.now() - started;
    observed.requests.inc({ route: routeName, status: String(status) });
    observed.latency.observe({ route: routeName }, ms / 1000);
    log({ ...line, status, ms: Math.round(ms * 10) / 10, ...(status === CLIENT_CLOSED ? { client_closed: true } : {}) });
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    // Read now: once the answer is sent the socket may be gone.
    const remote = req.socket.remoteAddress;
    const url = URL.canParse(req.url ?? '/', 'http://service') ? new URL(req.url ?? '/', 'http://service') : new URL('http://service/(unparsable)');
    const atPath = ROUTES.filter((r) => r.path === url.pathname);
    const route = atPath.find((r) => r.method === req.method);
    // Metric labels stay bounded: unknown paths share one.
    const routeName = atPath.length > 0 ? url.pathname : 'unmatched';
    // Whatever ends the request first: its timeout, its client leaving, its body cut short.
    const ended = new AbortController();
    const end: EndRequest = (reason) => {
      if (!ended.signal.aborted) ended.abort(reason);
    };
    requestOn.set(req.socket, { req, end });
    res.once('close', () => {
      if (!res.writableFinished) end(new ClientClosedError('before its answer'));
    });
    // A body still arriving at the timeout is the client's delay (408); a request waiting for the
    // GPU or a decode is the service's (503, retry later).
    const timer = setTimeout(() => end(req.complete
      ? new HttpError(503, `the request took longer than ${options.requestTimeoutMs} ms`, { 'Retry-After': '1' })
      : new HttpError(408, `the request body did not arrive within ${options.requestTimeoutMs} ms`)), options.requestTimeoutMs);
    let reply: Reply & { internal?: string };
    try {
      if (stopping) throw new HttpError(503, 'the service is shutting down', { Connection: 'close' });
      if (!route) {
        throw atPath.length > 0
          ? new HttpError(405, `${req.method} is not allowed on ${url.pathname}`, { Allow: atPath.map((r) => r.method).join(', ') })
          : new HttpError(404, `no route ${url.pathname} (see /openapi.json)`);
      }
      const aborted = new Promise<never>((_, reject) => ended.signal.addEventListener('abort', () => reject(ended.signal.reason), { once: true }));
      reply = await Promise.race([route.handle({ req, url, signal: ended.signal, service }), aborted]);
    } catch (err) {
      reply = errorReply(err);
    } finally {
      clearTimeout(timer);
      if (requestOn.get(req.socket)?.req === req) requestOn.delete(req.socket);
    }
    const status = res.destroyed ? CLIENT_CLOSED : reply.status;
    if (status !== CLIENT_CLOSED) {
      // An unread body (413 from Content-Length, early errors) makes the connection unusable afterwards.
      const closeAfter = !req.complete || reply.status === 413;
      res.writeHead(reply.status, { 'Content-Type': reply.type, ...(reply.headers ?? {}), ...(closeAfter ? { Connection: 'close' } : {}) });
      res.end(reply.body);
    }
    record(routeName, status, started, {
      method: req.method, path: url.pathname,
      ...(reply.samples === undefined ? {} : { samples: reply.samples }),
      ...(reply.status >= 400 ? { message: reply.internal ?? JSON.parse(String(reply.body)).message } : {}),
      remote,
    });
  }

  const server = createServer({ connectionsCheckingInterval: Math.min(30_000, Math.max(100, options.requestTimeoutMs / 4)) }, (req, res) => {
    inFlight++;
    void answer(req, res).catch((err: Error) => log({ event: 'internal-error', message: err.message })).finally(() => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
  });
  // Slow senders cannot hold a connection forever: the headers must arrive within headersTimeout and
  // the whole request within the request timeout. Our own timer answers a slow body first (408);
  // Node's, a little later, is the backstop.
  server.requestTimeout = options.requestTimeoutMs + NODE_TIMEOUT_SLACK_MS;
  server.headersTimeout = Math.min(options.requestTimeoutMs, 60_000);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const current = requestOn.get(socket);
    if (current) {
      current.end(connectionFault(err, options.requestTimeoutMs, true));
      return;
    }
    const started = performance.now();
    const fault = connectionFault(err, server.headersTimeout, false);
    // A connection closed or reset with no request on it is no request: nothing to count.
    if (fault instanceof ClientClosedError || !socket.writable) {
      socket.destroy();
      return;
    }
    answerOnSocket(socket, fault);
    record('unmatched', fault.status, started, { message: fault.message, remote: (socket as { remoteAddress?: string }).remoteAddress });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log({ event: 'listening', url, adapter: holder.model.gpu.adapter.description || holder.model.gpu.adapter.device, max_batch: options.maxBatch, max_delay_ms: options.maxDelayMs, max_queue: options.maxQueue });

  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (async () => {
    stopping = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const started = Date.now();
    if (inFlight > 0) {
      const allDone = new Promise<void>((resolve) => (drained = resolve));
      const bound = new Promise<void>((resolve) => setTimeout(resolve, options.shutdownTimeoutMs).unref());
      await Promise.race([allDone, bound]);
    }
    const unfinished = inFlight;
    batcher!.failQueued(new HttpError(503, 'the service is shutting down'));
    server.closeAllConnections();
    await closed;
    holder.close();
    log({ event: 'stopped', drained_ms: Date.now() - started, unfinished });
  })());

  return { url, holder, batcher, metrics, stop };
}
