// The model architecture as data: a JSON-serialisable description of the residual autoencoder, its
// validation, and the canonical list of state-dict tensors it implies. Everything else (graph
// building, weight mapping, the PyTorch reference in tools/) derives from this one description.

import type { Activation } from '../kernels/activation.js';
import { RcaeError } from '../errors.js';

export type { Activation };

export interface StageSpec {
  channels: number;
  residualBlocks: number;
}

export interface Architecture {
  baseWidth: number;
  inChannels: number;
  imageSize: number;
  latentDim: number;
  activation: 'relu' | 'leaky_relu';
  leakySlope: number;
  /** conv 4x4 s2 p1 -> BN -> act -> residual blocks, per stage. */
  encoder: StageSpec[];
  /** convT 4x4 s2 p1 -> BN -> act -> residual blocks; the last stage outputs the image: no BN, tanh. */
  decoder: StageSpec[];
  fcEncodeActivation: boolean;
  fcDecodeActivation: boolean;
}

export type Placement = 'reference' | 'enc4-res';

export const STAGE_KERNEL = 4;
export const STAGE_STRIDE = 2;
export const STAGE_PADDING = 1;
export const BN_EPS = 1e-5;

export class ArchitectureError extends RcaeError {
  readonly kind = 'format';
}

/**
 * The published layer list at base width w. 'enc4-res' is the known alternative placement with the
 * same parameter count: a Res(8w) at the 4x4 encoder stage and none after the first decoder stage.
 */
export function referenceArchitecture(baseWidth = 64, placement: Placement = 'reference'): Architecture {
  const w = baseWidth;
  const encBlocks = placement === 'reference' ? [1, 1, 1, 1, 0] : [1, 1, 1, 1, 1];
  const decBlocks = placement === 'reference' ? [1, 1, 1, 1, 0] : [0, 1, 1, 1, 0];
  return {
    baseWidth: w,
    inChannels: 3,
    imageSize: 128,
    latentDim: 512,
    activation: 'relu',
    leakySlope: 0.01,
    encoder: [w, 2 * w, 4 * w, 8 * w, 8 * w].map((channels, i) => ({ channels, residualBlocks: encBlocks[i] })),
    decoder: [8 * w, 4 * w, 2 * w, w, 3].map((channels, i) => ({ channels, residualBlocks: decBlocks[i] })),
    fcEncodeActivation: false,
    fcDecodeActivation: true,
  };
}

/** Spatial size of the bottleneck feature map (the input halved once per encoder stage). */
export function bottleneckSize(arch: Architecture): number {
  return arch.imageSize >> arch.encoder.length;
}

function fail(source: string, message: string): never {
  throw new ArchitectureError(`${source}: invalid architecture: ${message}`);
}

function positiveInt(v: unknown, what: string, source: string, max = 1 << 20): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) fail(source, `${what} must be an integer in 1..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function stages(v: unknown, what: string, source: string): StageSpec[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > 8) fail(source, `${what} must be a list of 1..8 stages`);
  return v.map((s, i) => {
    if (typeof s !== 'object' || s === null) fail(source, `${what}[${i}] must be an object`);
    const o = s as Record<string, unknown>;
    const blocks = o.residualBlocks;
    if (typeof blocks !== 'number' || !Number.isInteger(blocks) || blocks < 0 || blocks > 16) fail(source, `${what}[${i}].residualBlocks must be an integer in 0..16`);
    return { channels: positiveInt(o.channels, `${what}[${i}].channels`, source, 8192), residualBlocks: blocks };
  });
}

/** Checks an architecture read from JSON (a file, or safetensors metadata) and returns it typed. */
export function validateArchitecture(json: unknown, source = 'architecture'): Architecture {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(source, 'expected a JSON object');
  const o = json as Record<string, unknown>;
  const activation = o.activation;
  if (activation !== 'relu' && activation !== 'leaky_relu') fail(source, `activation must be "relu" or "leaky_relu", got ${JSON.stringify(activation)}`);
  const leakySlope = o.leakySlope ?? 0.01;
  if (typeof leakySlope !== 'number' || !Number.isFinite(leakySlope)) fail(source, 'leakySlope must be a number');
  for (const k of ['fcEncodeActivation', 'fcDecodeActivation']) {
    if (typeof o[k] !== 'boolean') fail(source, `${k} must be true or false`);
  }
  const arch: Architecture = {
    baseWidth: positiveInt(o.baseWidth, 'baseWidth', source, 4096),
    inChannels: positiveInt(o.inChannels, 'inChannels', source, 16),
    imageSize: positiveInt(o.imageSize, 'imageSize', source, 4096),
    latentDim: positiveInt(o.latentDim, 'latentDim', source, 1 << 16),
    activation,
    leakySlope,
    encoder: stages(o.encoder, 'encoder', source),
    decoder: stages(o.decoder, 'decoder', source),
    fcEncodeActivation: o.fcEncodeActivation as boolean,
    fcDecodeActivation: o.fcDecodeActivation as boolean,
  };
  if (arch.encoder.length !== arch.decoder.length) fail(source, `encoder has ${arch.encoder.length} stages but decoder has ${arch.decoder.length}`);
  if (arch.imageSize % (1 << arch.encoder.length) !== 0) fail(source, `imageSize ${arch.imageSize} is not divisible by 2^${arch.encoder.length}`);
  const last = arch.decoder[arch.decoder.length - 1];
  if (last.channels !== arch.inChannels) fail(source, `the last decoder stage must output inChannels (${arch.inChannels}), got ${last.channels}`);
  if (last.residualBlocks !== 0) fail(source, 'the last decoder stage (the image) cannot have residual blocks');
  return arch;
}

export type ParamRole =
  | 'conv.weight' | 'conv.bias' | 'convT.weight' | 'convT.bias'
  | 'bn.weight' | 'bn.bias' | 'bn.running_mean' | 'bn.running_var' | 'bn.num_batches_tracked'
  | 'linear.weight' | 'linear.bias';

export interface ParamSpec {
  name: string;
  shape: number[];
  role: ParamRole;
}

const BN_FIELDS = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'] as const;

function batchNorm(prefix: string, c: number): ParamSpec[] {
  return BN_FIELDS.map((f) => ({ name: `${prefix}.${f}`, shape: f === 'num_batches_tracked' ? [] : [c], role: `bn.${f}` as ParamRole }));
}

function conv(prefix: string, cin: number, cout: number, k: number, transposed: boolean): ParamSpec[] {
  const kind = transposed ? 'convT' : 'conv';
  // PyTorch keeps ConvTranspose2d weights as [in, out, k, k].
  const shape = transposed ? [cin, cout, k, k] : [cout, cin, k, k];
  return [
    { name: `${prefix}.weight`, shape, role: `${kind}.weight` as ParamRole },
    { name: `${prefix}.bias`, shape: [cout], role: `${kind}.bias` as ParamRole },
  ];
}

function residualBlock(prefix: string, c: number): ParamSpec[] {
  return [
    ...conv(`${prefix}.conv1`, c, c, 3, false),
    ...batchNorm(`${prefix}.bn1`, c),
    ...conv(`${prefix}.conv2`, c, c, 3, false),
    ...batchNorm(`${prefix}.bn2`, c),
  ];
}

function blocks(prefix: string, c: number, n: number): ParamSpec[] {
  return Array.from({ length: n }, (_, b) => residualBlock(`${prefix}.blocks.${b}`, c)).flat();
}

/** Canonical state-dict tensors (names, shapes, roles) in the order the tools/ PyTorch model registers them. */
export function parameterList(arch: Architecture): ParamSpec[] {
  const out: ParamSpec[] = [];
  let c = arch.inChannels;
  arch.encoder.forEach((s, i) => {
    out.push(...conv(`encoder.${i}.conv`, c, s.channels, STAGE_KERNEL, false), ...batchNorm(`encoder.${i}.bn`, s.channels), ...blocks(`encoder.${i}`, s.channels, s.residualBlocks));
    c = s.channels;
  });
  const side = bottleneckSize(arch);
  const flat = c * side * side;
  out.push(
    { name: 'fc_encode.weight', shape: [arch.latentDim, flat], role: 'linear.weight' },
    { name: 'fc_encode.bias', shape: [arch.latentDim], role: 'linear.bias' },
    { name: 'fc_decode.weight', shape: [flat, arch.latentDim], role: 'linear.weight' },
    { name: 'fc_decode.bias', shape: [flat], role: 'linear.bias' },
  );
  arch.decoder.forEach((s, i) => {
    const last = i === arch.decoder.length - 1;
    out.push(...conv(`decoder.${i}.conv`, c, s.channels, STAGE_KERNEL, true));
    if (!last) out.push(...batchNorm(`decoder.${i}.bn`, s.channels));
    out.push(...blocks(`decoder.${i}`, s.channels, s.residualBlocks));
    c = s.channels;
  });
  return out;
}

const TRAINABLE: ReadonlySet<ParamRole> = new Set<ParamRole>(['conv.weight', 'conv.bias', 'convT.weight', 'convT.bias', 'bn.weight', 'bn.bias', 'linear.weight', 'linear.bias']);

export function isTrainable(p: ParamSpec): boolean {
  return TRAINABLE.has(p.role);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Trainable parameters only; BN running statistics are buffers (34,849,667 for the reference at w=64). */
export function parameterCount(arch: Architecture): number {
  return parameterList(arch).filter(isTrainable).reduce((n, p) => n + elementCount(p.shape), 0);
}
