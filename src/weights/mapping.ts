// Puts checkpoint tensors onto the canonical parameter list of an Architecture, and infers that
// Architecture from the tensors when nothing else describes it. Names are tried first; a model
// whose names are foreign is matched module by module, in file order within each class of
// identical shapes, and the report says which tensor came from where and how.
import { type Architecture, type ParamSpec, STAGE_KERNEL, parameterList, referenceArchitecture, validateArchitecture } from '../graph/architecture.js';
import { WeightsFormatError, formatShape } from './format-error.js';
import type { HostTensor } from './tensor.js';

export type MatchHow = 'name' | 'shape-order';

export interface MatchEntry {
  /** Canonical state-dict name (see parameterList). */
  canonical: string;
  /** The checkpoint key it was read from. */
  source: string;
  how: MatchHow;
  shape: number[];
}

export interface MatchReport {
  /** One line: how many tensors were matched how, and what was ignored. */
  summary: string;
  /** One per canonical tensor, in canonical order (num_batches_tracked excluded). */
  entries: MatchEntry[];
  /** Checkpoint tensors deliberately not used (BN num_batches_tracked counters). */
  ignored: string[];
  /** Ambiguities and how they were resolved. */
  notes: string[];
}

/** Anything with a shape: enough to infer an architecture without touching the data. */
export type ShapedTensors = ReadonlyMap<string, Pick<HostTensor, 'shape'>>;

const IGNORED_SUFFIX = 'num_batches_tracked';
const RESIDUAL_KERNEL = 3;

type ModuleKind = 'conv' | 'linear' | 'bn';

interface Module {
  prefix: string;
  kind: ModuleKind;
  /** Tensor suffix (weight, bias, running_mean, ...) -> full name and shape. */
  tensors: Map<string, { name: string; shape: number[] }>;
}

function splitName(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? ['', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

function moduleLabel(m: Module): string {
  return m.prefix === '' ? '(top level)' : m.prefix;
}

function weightShape(m: Module): number[] {
  return m.tensors.get('weight')?.shape ?? [];
}

/** Shapes of a module's tensors, in a fixed order: the key of its shape class. */
function signature(m: Module): string {
  const parts = [...m.tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([s, t]) => `${s} ${formatShape(t.shape)}`);
  return `${m.kind}: ${parts.join(', ')}`;
}

/** Groups tensors into modules by name prefix, in order of first appearance, and classifies them. */
function groupModules(named: Iterable<{ name: string; shape: number[] }>, source: string): { modules: Module[]; ignored: string[] } {
  const byPrefix = new Map<string, Map<string, { name: string; shape: number[] }>>();
  const ignored: string[] = [];
  for (const t of named) {
    const [prefix, suffix] = splitName(t.name);
    if (suffix === IGNORED_SUFFIX) {
      ignored.push(t.name);
      continue;
    }
    let group = byPrefix.get(prefix);
    if (!group) byPrefix.set(prefix, (group = new Map()));
    group.set(suffix, { name: t.name, shape: [...t.shape] });
  }
  const modules: Module[] = [];
  for (const [prefix, tensors] of byPrefix) {
    const rank = tensors.get('weight')?.shape.length;
    const kind: ModuleKind | null = tensors.has('running_mean') ? 'bn' : rank === 4 ? 'conv' : rank === 2 ? 'linear' : null;
    if (!kind) {
      const list = [...tensors.values()].map((t) => `${t.name} ${formatShape(t.shape)}`).join(', ');
      throw new WeightsFormatError(source, `cannot tell what layer holds ${list}: not a convolution, linear or batch-norm layer`);
    }
    modules.push({ prefix, kind, tensors });
  }
  return { modules, ignored };
}

function checkpointModules(tensors: ShapedTensors, source: string): { modules: Module[]; ignored: string[] } {
  return groupModules([...tensors].map(([name, t]) => ({ name, shape: t.shape })), source);
}

// ---------------------------------------------------------------------------------------------
// Mapping

export function mapStateDict(arch: Architecture, tensors: ReadonlyMap<string, HostTensor>, source = 'checkpoint'): { params: Map<string, Float32Array>; report: MatchReport } {
  const specs = parameterList(arch).filter((p) => !p.name.endsWith(`.${IGNORED_SUFFIX}`));
  const named = specs.filter((p) => tensors.has(p.name)).length;
  const { entries, ignored, notes } = named * 2 > specs.length ? matchByName(specs, tensors, source) : matchByShapeOrder(specs, tensors, source);
  const params = new Map<string, Float32Array>();
  for (const e of entries) params.set(e.canonical, (tensors.get(e.source) as HostTensor).toFloat32());
  const byName = entries.filter((e) => e.how === 'name').length;
  const how = byName === entries.length ? 'by name' : 'by shape order (the checkpoint names its layers differently)';
  const summary = `${entries.length} tensors matched ${how}${ignored.length > 0 ? `; ${ignored.length} num_batches_tracked ignored` : ''}`;
  return { params, report: { summary, entries, ignored, notes } };
}

function listSome(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ... (${names.length} in all)`;
}

function matchByName(specs: ParamSpec[], tensors: ReadonlyMap<string, HostTensor>, source: string): Omit<MatchReport, 'summary'> {
  const fail = (problem: string): never => {
    throw new WeightsFormatError(source, problem);
  };
  const missing = specs.filter((p) => !tensors.has(p.name)).map((p) => p.name);
  if (missing.length > 0) fail(`missing tensor${missing.length > 1 ? 's' : ''} ${listSome(missing)}`);
  const wanted = new Set(specs.map((p) => p.name));
  const ignored = [...tensors.keys()].filter((n) => !wanted.has(n) && splitName(n)[1] === IGNORED_SUFFIX);
  const extra = [...tensors.keys()].filter((n) => !wanted.has(n) && splitName(n)[1] !== IGNORED_SUFFIX);
  if (extra.length > 0) fail(`unexplained tensor${extra.length > 1 ? 's' : ''} ${listSome(extra)} (not in the architecture)`);
  const entries = specs.map((p): MatchEntry => {
    const shape = (tensors.get(p.name) as HostTensor).shape;
    if (formatShape(shape) !== formatShape(p.shape)) fail(`tensor ${p.name} has shape ${formatShape(shape)}, expected ${formatShape(p.shape)}`);
    return { canonical: p.name, source: p.name, how: 'name', shape: [...p.shape] };
  });
  return { entries, ignored, notes: [] };
}

function matchByShapeOrder(specs: ParamSpec[], tensors: ReadonlyMap<string, HostTensor>, source: string): Omit<MatchReport, 'summary'> {
  const fail = (problem: string): never => {
    throw new WeightsFormatError(source, problem);
  };
  const canonical = groupModules(specs, source).modules;
  const roleOf = new Map(specs.map((p) => [p.name, p.role]));
  const { modules, ignored } = checkpointModules(tensors, source);
  const classes = new Map<string, { want: Module[]; have: Module[] }>();
  const classOf = (sig: string) => {
    let c = classes.get(sig);
    if (!c) classes.set(sig, (c = { want: [], have: [] }));
    return c;
  };
  for (const m of canonical) classOf(signature(m)).want.push(m);
  for (const m of modules) classOf(signature(m)).have.push(m);

  const pairs = new Map<Module, Module>();
  const notes: string[] = [];
  for (const [sig, { want, have }] of classes) {
    if (have.length > want.length) {
      const extra = have.slice(want.length).flatMap((m) => [...m.tensors.values()].map((t) => t.name));
      fail(`unexplained tensor${extra.length > 1 ? 's' : ''} ${listSome(extra)}: the checkpoint has ${have.length} layers of shape (${sig}), the architecture ${want.length}`);
    }
    if (have.length < want.length) {
      fail(`no checkpoint tensors for ${moduleLabel(want[have.length])} (${sig}): the checkpoint has ${have.length} layers of that shape, the architecture ${want.length}`);
    }
    want.forEach((w, i) => pairs.set(w, have[i]));
    const roles = new Set(want.map((w) => roleOf.get((w.tensors.get('weight') as { name: string }).name)));
    if (roles.has('conv.weight') && roles.has('convT.weight')) {
      const assigned = want.map((w, i) => `${have[i].prefix} -> ${w.prefix}`).join(', ');
      notes.push(`weight ${formatShape(weightShape(want[0]))} fits both a convolution and a transposed convolution; assigned by module order (encoder before decoder): ${assigned}`);
    }
  }

  const position = new Map(modules.map((m, i) => [m, i]));
  const order = canonical.map((w) => position.get(pairs.get(w) as Module) as number);
  const outOfOrder = order.findIndex((p, i) => i > 0 && p < order[i - 1]);
  if (outOfOrder > 0) {
    const m = canonical[outOfOrder];
    notes.push(`the checkpoint registers layers in a different order than the architecture (${(pairs.get(m) as Module).prefix}, matched to ${m.prefix}, comes before ${(pairs.get(canonical[outOfOrder - 1]) as Module).prefix}); each layer was matched within its shape class in file order`);
  }
  const entries = canonical.flatMap((w) => {
    const have = pairs.get(w) as Module;
    return [...w.tensors].map(([suffix, t]): MatchEntry => ({ canonical: t.name, source: (have.tensors.get(suffix) as { name: string }).name, how: 'shape-order', shape: t.shape }));
  });
  const byCanonical = new Map(entries.map((e) => [e.canonical, e]));
  return { entries: specs.map((p) => byCanonical.get(p.name) as MatchEntry), ignored, notes };
}

// ---------------------------------------------------------------------------------------------
// Architecture inference

interface StageConv {
  module: Module;
  /** Position in file order among all modules. */
  at: number;
}

/** Infers the architecture from tensor shapes and module order; `evidence` says how each part was decided. */
export function inferArchitecture(tensors: ShapedTensors, source = 'checkpoint'): { arch: Architecture; evidence: string[] } {
  const fail = (problem: string): never => {
    throw new WeightsFormatError(source, `cannot infer the architecture: ${problem}`);
  };
  const { modules } = checkpointModules(tensors, source);
  const evidence: string[] = [];
  const convs = modules.map((module, at) => ({ module, at })).filter((c) => c.module.kind === 'conv');
  const kernel = (c: StageConv) => weightShape(c.module).slice(2);
  const strided = convs.filter((c) => kernel(c).every((k) => k === STAGE_KERNEL));
  const residual = convs.filter((c) => kernel(c).every((k) => k === RESIDUAL_KERNEL));
  const odd = convs.find((c) => !strided.includes(c) && !residual.includes(c));
  if (odd) fail(`convolution ${odd.module.prefix} has a ${formatShape(kernel(odd))} kernel (stages use 4x4, residual blocks 3x3)`);

  // Stages: the 4x4 convolutions, encoder first in module order, as many decoder as encoder stages.
  if (strided.length < 2 || strided.length % 2 !== 0) fail(`found ${strided.length} 4x4 convolutions; expected an even number (encoder and decoder stages)`);
  const half = strided.length / 2;
  const enc = strided.slice(0, half);
  const dec = strided.slice(half);
  const [baseWidth, inChannels] = weightShape(enc[0].module);
  evidence.push(`base width ${baseWidth}: the first convolution (${enc[0].module.prefix}) maps ${inChannels} input channels to ${baseWidth}`);
  evidence.push(`${half} encoder and ${half} decoder stages: ${strided.length} 4x4 convolutions, the first half taken as the encoder by module order`);
  const encoder = enc.map((c, i) => {
    const [cout, cin] = weightShape(c.module);
    const expectIn = i === 0 ? inChannels : weightShape(enc[i - 1].module)[0];
    if (cin !== expectIn) fail(`encoder convolution ${c.module.prefix} takes ${cin} channels but the previous stage gives ${expectIn}`);
    return cout;
  });
  const bottleneckChannels = encoder[half - 1];
  // ConvTranspose2d weights are [in, out, k, k].
  const decoder = dec.map((c, i) => {
    const [cin, cout] = weightShape(c.module);
    const expectIn = i === 0 ? bottleneckChannels : weightShape(dec[i - 1].module)[1];
    if (cin !== expectIn) fail(`decoder convolution ${c.module.prefix} takes ${cin} channels but the previous stage gives ${expectIn}`);
    return cout;
  });
  if (decoder[half - 1] !== inChannels) fail(`the last decoder convolution ${dec[half - 1].module.prefix} outputs ${decoder[half - 1]} channels, the input has ${inChannels}`);
  evidence.push(`channels: encoder ${encoder.join(',')}; decoder ${decoder.join(',')}`);
  const lastEnc = enc[half - 1].module;
  if (formatShape(weightShape(lastEnc)) === formatShape(weightShape(dec[0].module))) {
    evidence.push(`${lastEnc.prefix} and ${dec[0].module.prefix} share the shape ${formatShape(weightShape(lastEnc))}: the earlier one in module order is the encoder convolution, the later the decoder's transposed convolution`);
  }

  const { latentDim, side } = inferBottleneck(modules, strided, bottleneckChannels, evidence, fail);
  const imageSize = side << half;
  evidence.push(`image size ${imageSize}: a ${side}x${side} bottleneck after ${half} halvings`);

  const blocks = inferBlocks(residual, strided, [...encoder, ...decoder], baseWidth, evidence, fail);
  const base = referenceArchitecture(baseWidth);
  const arch = validateArchitecture({
    ...base,
    inChannels,
    imageSize,
    latentDim,
    encoder: encoder.map((channels, i) => ({ channels, residualBlocks: blocks[i] })),
    decoder: decoder.map((channels, i) => ({ channels, residualBlocks: blocks[half + i] })),
  }, source);
  evidence.push(`residual blocks per stage: encoder ${blocks.slice(0, half).join(',')}; decoder ${blocks.slice(half).join(',')} (${placementName(arch)})`);
  evidence.push(`not stored in weights, taken from the reference: ${base.activation} activation, fc_encode ${base.fcEncodeActivation ? 'with' : 'without'} and fc_decode ${base.fcDecodeActivation ? 'with' : 'without'} activation`);
  return { arch, evidence };
}

function inferBottleneck(modules: Module[], strided: StageConv[], channels: number, evidence: string[], fail: (p: string) => never): { latentDim: number; side: number } {
  const linears = modules.map((module, at) => ({ module, at })).filter((m) => m.module.kind === 'linear');
  if (linears.length !== 2) fail(`found ${linears.length} linear layers; expected 2 (fc_encode and fc_decode)`);
  const [a, b] = linears;
  const [aOut, aIn] = weightShape(a.module);
  const [bOut, bIn] = weightShape(b.module);
  if (aOut !== bIn || aIn !== bOut) fail(`linear layers ${a.module.prefix} ${formatShape([aOut, aIn])} and ${b.module.prefix} ${formatShape([bOut, bIn])} are not each other's transpose`);
  // fc_encode reads the flattened C x s x s bottleneck; when both orientations fit, module order decides.
  const fits = (flat: number) => flat % channels === 0 && Number.isInteger(Math.sqrt(flat / channels));
  const aEncodes = fits(aIn) && (!fits(bIn) || a.at < b.at);
  const [encode, decode] = aEncodes ? [a, b] : [b, a];
  const [latentDim, flat] = weightShape(encode.module);
  if (!fits(flat)) fail(`linear layer ${encode.module.prefix} reads ${flat} values, not ${channels} channels times a square`);
  if (fits(aIn) && fits(bIn)) evidence.push(`both linear layers have shape ${formatShape([aOut, aIn])}: the earlier one is taken as fc_encode`);
  evidence.push(`latent ${latentDim}: fc_encode = ${encode.module.prefix} ${formatShape([latentDim, flat])}, fc_decode = ${decode.module.prefix} ${formatShape([flat, latentDim])}`);
  const between = (m: StageConv) => m.at > strided[strided.length / 2 - 1].at && m.at < strided[strided.length / 2].at;
  if (!between(encode) || !between(decode)) evidence.push('the linear layers are not registered between encoder and decoder; they were identified by shape alone');
  return { latentDim, side: Math.sqrt(flat / channels) };
}

function lastBefore(stages: StageConv[], at: number): number {
  let found = -1;
  stages.forEach((s, i) => {
    if (s.at < at) found = i;
  });
  return found;
}

/**
 * Residual blocks are pairs of c->c 3x3 convolutions. A pair belongs to the stage whose 4x4
 * convolution precedes it in module order when its channels agree with that stage; when the
 * blocks are registered apart from their stages, a named placement whose channels fit is used.
 */
function inferBlocks(residual: StageConv[], stages: StageConv[], channels: number[], baseWidth: number, evidence: string[], fail: (p: string) => never): number[] {
  if (residual.length % 2 !== 0) fail(`found ${residual.length} 3x3 convolutions; residual blocks need them in pairs`);
  const pairs: { first: StageConv; c: number }[] = [];
  for (let i = 0; i < residual.length; i += 2) {
    const [first, second] = [residual[i], residual[i + 1]];
    const dims = [...weightShape(first.module).slice(0, 2), ...weightShape(second.module).slice(0, 2)];
    if (!dims.every((d) => d === dims[0])) fail(`3x3 convolutions ${first.module.prefix} and ${second.module.prefix} do not form a residual block (channels ${dims.join(',')})`);
    pairs.push({ first, c: dims[0] });
  }
  const byOrder = new Array<number>(stages.length).fill(0);
  const ordered = pairs.every(({ first, c }) => {
    const stage = lastBefore(stages, first.at);
    if (stage < 0 || channels[stage] !== c) return false;
    byOrder[stage]++;
    return true;
  });
  if (ordered) {
    if (pairs.length > 0) evidence.push(`${pairs.length} residual blocks placed by module order (each follows its stage's 4x4 convolution)`);
    return byOrder;
  }
  const countByChannels = (list: number[]) => JSON.stringify([...list].sort((a, b) => a - b));
  const found = countByChannels(pairs.map((p) => p.c));
  for (const placement of ['reference', 'enc4-res'] as const) {
    const ref = referenceArchitecture(baseWidth, placement);
    const stagesOf = [...ref.encoder, ...ref.decoder];
    const expected = stagesOf.flatMap((s) => new Array<number>(s.residualBlocks).fill(s.channels));
    if (JSON.stringify(stagesOf.map((s) => s.channels)) === JSON.stringify(channels) && countByChannels(expected) === found) {
      evidence.push(`residual blocks are not registered after their stages; their channels fit the '${placement}' placement, which is assumed (shapes alone cannot tell it from other placements with the same blocks)`);
      return stagesOf.map((s) => s.residualBlocks);
    }
  }
  return fail(`residual blocks (channels ${pairs.map((p) => p.c).join(',')}) neither follow stage convolutions of their width in module order nor fit a known placement`);
}

function placementName(arch: Architecture): string {
  const same = (p: 'reference' | 'enc4-res') => {
    const ref = referenceArchitecture(arch.baseWidth, p);
    return JSON.stringify([ref.encoder, ref.decoder]) === JSON.stringify([arch.encoder, arch.decoder]);
  };
  if (same('reference')) return 'the reference placement';
  if (same('enc4-res')) return "the 'enc4-res' placement";
  return 'not a named placement';
}
