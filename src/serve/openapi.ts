// The OpenAPI 3.1 document served at /openapi.json. It is built from the route table, and every route
// must have an entry here (startService refuses to start otherwise), so the two cannot drift; the
// tests also call every documented operation on a real server.

import type { Route } from './routes.js';
import { InternalError } from '../errors.js';

const problem = { type: 'object', required: ['status', 'message'], properties: { status: { type: 'integer' }, message: { type: 'string' } } };
const detection = {
  type: 'object',
  required: ['error', 'threshold', 'level', 'label'],
  properties: {
    error: { type: ['number', 'null'], description: 'the per-sample value of the score the server was started with (GET /v1/model names it; mse by default: the MSE between the input and its reconstruction); null when not finite (label INVALID)' },
    threshold: { type: 'number' },
    level: { type: 'string' },
    label: { type: 'string', enum: ['REAL', 'FAKE', 'INVALID'] },
    reason: { type: 'string', description: 'why the label is INVALID (NaN or Inf in the input or the model)' },
    reconstruction_png: { type: 'string', contentEncoding: 'base64', description: 'with ?reconstruction=1: PNG of the input, its reconstruction and the error map, stacked' },
  },
};
const detectionParams = [
  { name: 'level', in: 'query', schema: { type: 'string' }, description: 'strict, balanced, sensitive, optimal, another level in the thresholds file, or a number' },
  { name: 'reconstruction', in: 'query', schema: { type: 'string', enum: ['0', '1'] }, description: '1: add reconstruction_png' },
];
const jsonOf = (schema: object) => ({ 'application/json': { schema } });
const failure = (description: string) => ({ description, content: jsonOf(problem) });
const scoringFailures = {
  400: failure('a malformed ?level= or ?reconstruction=, a malformed multipart body, or a body that ended before its Content-Length'),
  408: failure('the request body did not arrive within the request timeout'),
  413: failure('body or image count over the limit'),
  422: failure('an input that cannot be decoded or is over the pixel limit (the reason names it)'),
  503: failure('overload: queue full, too many bytes being uploaded at once, no answer within the request timeout, or GPU device lost (Retry-After says when to retry)'),
};

const OPERATIONS: Record<string, object> = {
  'POST /v1/detect': {
    summary: 'Label one image REAL or FAKE',
    parameters: detectionParams,
    requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' }, description: 'an image file (JPEG, PNG, WebP, GIF, TIFF, AVIF) or a .npy float32 [1,3,128,128]' } } },
    responses: { 200: { description: 'the detection', content: jsonOf(detection) }, ...scoringFailures },
  },
  'POST /v1/detect/batch': {
    summary: 'Label several images; results in input order',
    parameters: detectionParams,
    requestBody: {
      required: true,
      content: {
        'multipart/form-data': { schema: { type: 'object', additionalProperties: { type: 'string', format: 'binary' } }, description: 'one image per part' },
        'application/octet-stream': { schema: { type: 'string', format: 'binary' }, description: 'a .npy float32 [N,3,128,128] normalised to [-1, 1]' },
      },
    },
    responses: {
      200: { description: 'one detection per input, with `input` naming its part', content: jsonOf({ type: 'array', items: { ...detection, properties: { input: { type: 'string' }, ...detection.properties } } }) },
      415: failure('neither multipart nor .npy'),
      ...scoringFailures,
    },
  },
  'GET /healthz': { summary: 'The process is alive', responses: { 200: { description: 'alive', content: jsonOf({ type: 'object' }) } } },
  'GET /readyz': {
    summary: 'The model is loaded and its device usable',
    responses: { 200: { description: 'ready', content: jsonOf({ type: 'object' }) }, 503: { description: 'device lost (being re-created) or shutting down', content: jsonOf({ type: 'object' }) } },
  },
  'GET /metrics': { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
  'GET /v1/model': {
    summary: 'Architecture, parameter count, the model file (name and SHA-256), thresholds, adapter and precision',
    responses: {
      200: {
        description: 'the model',
        content: jsonOf({
          type: 'object',
          required: ['architecture', 'parameter_count', 'model', 'score', 'thresholds', 'adapter', 'precision'],
          properties: {
            model: {
              type: 'object',
              required: ['file', 'sha256'],
              properties: { file: { type: 'string', description: "the model file's name" }, sha256: { type: 'string' }, path: { type: 'string', description: 'its path on the server, only with rcae serve --show-model-path' } },
            },
          },
        }),
      },
      503: failure('device lost'),
    },
  },
  'GET /openapi.json': { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: jsonOf({ type: 'object' }) } } },
};

export function openapiDocument(routes: readonly Route[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const operation = OPERATIONS[key];
    if (!operation) throw new InternalError(`openapi: route ${key} is not documented`);
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  const extra = Object.keys(OPERATIONS).filter((key) => !routes.some((r) => `${r.method} ${r.path}` === key));
  if (extra.length > 0) throw new InternalError(`openapi: documented operations without a route: ${extra.join(', ')}`);
  return { openapi: '3.1.0', info: { title: 'rcae serve', version, description: 'Reconstruction-error REAL/FAKE detection over HTTP' }, paths };
}
