// What each route answers. The table below is the service's whole surface: the server dispatches on
// it and the OpenAPI document is built from it, so neither can list a route the other lacks.

import type { IncomingMessage } from 'node:http';
import { comparisonGrid, comparisonGridPngBytes } from '../image/comparison-grid.js';
import { labelFor, type Label } from '../detect/label.js';
import type { PickedThreshold } from '../detect/thresholds.js';
import type { DecodeBudget } from '../image/preprocess.js';
import { quotedMessage } from '../printable.js';
import { isNpyBytes, type Samples, type SampleShape } from '../node/input-reader.js';
import type { Batcher, Scored } from './batcher.js';
import { HttpError } from './http-error.js';
import type { ServiceMetrics } from './prometheus.js';
import type { ModelHolder } from './model-holder.js';
import { multipartParts, readBody, type BodyBudget, type Part } from './request-body.js';
import { imageParts, npyBody } from './samples.js';

/** The detector's thresholds: the default level, and any other level a request names with ?level=. */
export interface ThresholdChoice {
  fallback: PickedThreshold;
  /** Throws (answered 400) when the level is unknown or malformed. */
  pick(level: string): PickedThreshold;
  /** Every named level and its value, for /v1/model. */
  levels: Record<string, number>;
}

export interface ServiceContext {
  holder: ModelHolder;
  batcher: Batcher;
  metrics: ServiceMetrics;
  thresholds: ThresholdChoice;
  /** The detection score responses carry as `error`. */
  score: string;
  shape: SampleShape;
  maxBodyBytes: number;
  /** Images (or .npy rows) accepted in one batch request. */
  maxImagesPerRequest: number;
  bodyBudget: BodyBudget;
  decodeBudget: DecodeBudget;
  model: ModelFile;
  /** Built once from ROUTES by openapi.ts. */
  openapi: object;
}

/** The model's file as /v1/model shows it: its name and SHA-256, and its path only when the operator asked. */
export interface ModelFile {
  file: string;
  sha256: string;
  path?: string;
}

export interface Reply {
  status: number;
  type: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  /** Samples the request carried (access log). */
  samples?: number;
}

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  signal: AbortSignal;
  service: ServiceContext;
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle(ctx: RequestContext): Promise<Reply>;
}

const json = (value: unknown, status = 200): Reply => ({ status, type: 'application/json', body: JSON.stringify(value) });

interface Detection {
  input?: string;
  error: number;
  threshold: number;
  level: string;
  /** INVALID when the error is not finite (it is then null in JSON), with the reason. */
  label: Label;
  reason?: string;
  /** base64 PNG: input, reconstruction and error map stacked (as `rcae reconstruct --grid`). */
  reconstruction_png?: string;
}

function chosenThreshold(ctx: RequestContext): PickedThreshold {
  const level = ctx.url.searchParams.get('level');
  if (level === null) return ctx.service.thresholds.fallback;
  try {
    return ctx.service.thresholds.pick(level);
  } catch (err) {
    throw new HttpError(400, `?level=${quotedMessage(level, 80)}: ${(err as Error).message}`);
  }
}

function wantsReconstruction(url: URL): boolean {
  const value = url.searchParams.get('reconstruction');
  if (value === null || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new HttpError(400, `?reconstruction= must be 0 or 1, got '${quotedMessage(value, 80)}'`);
}

/**
 * Admits `count` samples to the queue (503 when full), decodes them, scores them in the batcher and
 * labels each. Admission comes first, so decoded tensors waiting anywhere stay within --max-queue.
 */
async function detections(ctx: RequestContext, names: string[], decode: () => Promise<Samples>): Promise<Detection[]> {
  const threshold = chosenThreshold(ctx);
  const withReconstruction = wantsReconstruction(ctx.url);
  const admission = ctx.service.batcher.admit(names.length);
  let samples: Samples;
  try {
    samples = await decode();
  } catch (err) {
    admission.cancel();
    throw err;
  }
  const scored: Scored = await admission.submit(samples.data, withReconstruction, ctx.signal);
  const { channels, size } = ctx.service.shape;
  const per = channels * size * size;
  return Promise.all(names.map(async (input, i) => {
    const error = scored.error[i];
    const row: Detection = { input, error, threshold: threshold.value, level: threshold.level, ...labelFor(error, threshold.value) };
    if (scored.reconstruction) {
      const grid = comparisonGrid(samples.data.subarray(i * per, (i + 1) * per), scored.reconstruction.subarray(i * per, (i + 1) * per), 1, channels, size);
      row.reconstruction_png = (await comparisonGridPngBytes(grid)).toString('base64');
    }
    return row;
  }));
}

/** Reads the body within the service's limits and holds its bytes in the shared budget meanwhile. */
async function withBody<T>(ctx: RequestContext, use: (body: Buffer) => Promise<T>): Promise<T> {
  const { body, release } = await readBody(ctx.req, ctx.service.maxBodyBytes, ctx.service.bodyBudget);
  try {
    if (body.length === 0) throw new HttpError(422, 'the request body is empty: send the image (or .npy) as the body');
    return await use(body);
  } finally {
    release();
  }
}

const detectOne: Route = {
  method: 'POST',
  path: '/v1/detect',
  handle: (ctx) => withBody(ctx, async (body) => {
    const { shape, decodeBudget } = ctx.service;
    const name = 'request body';
    const decode = isNpyBytes(body) ? async () => npyBody(body, name, shape, 1) : () => imageParts([{ name, data: body }], shape, decodeBudget);
    const [row] = await detections(ctx, [name], decode);
    const { input: _input, ...result } = row;
    return { ...json(result), samples: 1 };
  }),
};

const detectBatch: Route = {
  method: 'POST',
  path: '/v1/detect/batch',
  handle: (ctx) => withBody(ctx, async (body) => {
    const { shape, decodeBudget, maxImagesPerRequest } = ctx.service;
    const type = ctx.req.headers['content-type'] ?? '';
    let rows: Detection[];
    if (/^multipart\/form-data/i.test(type)) {
      const parts: Part[] = multipartParts(body, type, maxImagesPerRequest);
      rows = await detections(ctx, parts.map((p) => p.name), () => imageParts(parts, shape, decodeBudget));
    } else if (isNpyBytes(body)) {
      // The rows are known only once parsed; parsing is bounded by the body size.
      const samples = npyBody(body, 'request body', shape, maxImagesPerRequest);
      rows = await detections(ctx, Array.from({ length: samples.count }, (_, i) => `request body#${i}`), async () => samples);
    } else {
      throw new HttpError(415, 'send multipart/form-data with one image per part, or one .npy float32 [N,3,128,128] as the body');
    }
    return { ...json(rows), samples: rows.length };
  }),
};

const healthz: Route = { method: 'GET', path: '/healthz', handle: async () => json({ status: 'alive' }) };

const readyz: Route = {
  method: 'GET',
  path: '/readyz',
  async handle(ctx) {
    const state = ctx.service.holder.state;
    return state === 'ready' ? json({ status: state }) : { ...json({ status: state }, 503), headers: { 'Retry-After': '5' } };
  },
};

const metrics: Route = {
  method: 'GET',
  path: '/metrics',
  async handle(ctx) {
    const { registry } = ctx.service.metrics;
    return { status: 200, type: registry.contentType, body: await registry.metrics() };
  },
};

const modelInfo: Route = {
  method: 'GET',
  path: '/v1/model',
  async handle(ctx) {
    const model = ctx.service.holder.model;
    const { thresholds } = ctx.service;
    return json({
      architecture: model.arch,
      parameter_count: model.parameterCount,
      model: ctx.service.model,
      score: ctx.service.score,
      thresholds: thresholds.levels,
      default_level: thresholds.fallback.level,
      default_threshold: thresholds.fallback.value,
      adapter: model.gpu.adapter,
      precision: model.precision,
      variant: model.variant,
    });
  },
};

const openapi: Route = { method: 'GET', path: '/openapi.json', handle: async (ctx) => json(ctx.service.openapi) };

export const ROUTES: readonly Route[] = [detectOne, detectBatch, healthz, readyz, metrics, modelInfo, openapi];
