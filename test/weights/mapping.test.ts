import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Architecture, type ParamSpec, parameterCount, parameterList, referenceArchitecture, validateArchitecture } from '../../src/graph/architecture.js';
import { readCheckpoint } from '../../src/weights/checkpoint.js';
import { inferArchitecture, mapStateDict } from '../../src/weights/mapping.js';
import type { HostTensor } from '../../src/weights/tensor.js';
import { expected, fixture, throwsFormat } from './helpers.js';
import { SEED, random } from '../helpers/random.js';

const test = suite('weights/mapping');
type Rng = ReturnType<typeof random>;

const fixtureArch = (): Architecture => ({ ...referenceArchitecture(expected.width), latentDim: expected.latent });

class FakeTensor implements HostTensor {
  readonly dtype = 'f32';
  constructor(readonly shape: number[], private readonly data: Float32Array) {}
  toFloat32(): Float32Array {
    return this.data.slice();
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function modulesOf(specs: ParamSpec[]): { prefix: string; specs: ParamSpec[] }[] {
  const out: { prefix: string; specs: ParamSpec[] }[] = [];
  for (const p of specs) {
    const prefix = p.name.slice(0, p.name.lastIndexOf('.'));
    if (out.length === 0 || out[out.length - 1].prefix !== prefix) out.push({ prefix, specs: [] });
    out[out.length - 1].specs.push(p);
  }
  return out;
}

interface Foreign {
  tensors: Map<string, FakeTensor>;
  /** canonical name -> the foreign name holding its data */
  renamed: Map<string, string>;
}

/**
 * The architecture's tensors under foreign names (numbered Sequential-style modules), optionally
 * with the linear layers registered first or the residual blocks registered after everything.
 */
function foreign(arch: Architecture, rng: Rng, order: { fcFirst?: boolean; blocksLast?: boolean } = {}): Foreign {
  let modules = modulesOf(parameterList(arch));
  const isFc = (m: { prefix: string }) => m.prefix.startsWith('fc_');
  const isBlock = (m: { prefix: string }) => m.prefix.includes('.blocks.');
  if (order.fcFirst) modules = [...modules.filter(isFc), ...modules.filter((m) => !isFc(m))];
  if (order.blocksLast) modules = [...modules.filter((m) => !isBlock(m)), ...modules.filter(isBlock)];
  const scheme = rng.pick([(i: number) => `net.${i}`, (i: number) => `model.layers.${i}.op`, (i: number) => `m${i}`]);
  const tensors = new Map<string, FakeTensor>();
  const renamed = new Map<string, string>();
  modules.forEach((m, i) => {
    for (const p of m.specs) {
      const name = `${scheme(i)}.${p.name.slice(m.prefix.length + 1)}`;
      tensors.set(name, new FakeTensor(p.shape, Float32Array.from({ length: numel(p.shape) }, () => rng.next() * 2 - 1)));
      renamed.set(p.name, name);
    }
  });
  return { tensors, renamed };
}

function shapesOnly(arch: Architecture, rename: (name: string) => string = (n) => n): Map<string, { shape: number[] }> {
  return new Map(parameterList(arch).map((p) => [rename(p.name), { shape: p.shape }]));
}

function randomArchitecture(rng: Rng): Architecture {
  const stages = rng.int(2, 5);
  const encoder = Array.from({ length: stages }, () => ({ channels: rng.int(1, 9), residualBlocks: rng.int(0, 2) }));
  const decoder = Array.from({ length: stages }, (_, i) => (i === stages - 1 ? { channels: 3, residualBlocks: 0 } : { channels: rng.int(1, 9), residualBlocks: rng.int(0, 2) }));
  return validateArchitecture({ ...referenceArchitecture(encoder[0].channels), encoder, decoder, latentDim: rng.int(1, 40), imageSize: rng.pick([1, 2, 4]) << stages }, 'random');
}

test('canonical names: the fixture architecture is inferred and every tensor matched by name', async () => {
  const ckpt = await readCheckpoint(fixture('plain.pt'));
  const { arch, evidence } = inferArchitecture(ckpt.tensors, 'plain.pt');
  assert.equal(arch, fixtureArch());
  assert.ok(evidence.some((e) => e.startsWith(`base width ${expected.width}`)), evidence.join('\n'));
  assert.ok(evidence.some((e) => e.includes('the reference placement')), evidence.join('\n'));
  const { params, report } = mapStateDict(arch, ckpt.tensors, 'plain.pt');
  const trainableAndStats = parameterList(arch).filter((p) => p.role !== 'bn.num_batches_tracked');
  assert.equal([...params.keys()], trainableAndStats.map((p) => p.name));
  assert.ok(report.entries.every((e) => e.how === 'name' && e.source === e.canonical));
  assert.is(report.ignored.length, trainableAndStats.filter((p) => p.role === 'bn.running_mean').length);
  assert.match(report.summary, /^156 tensors matched by name; 25 num_batches_tracked ignored$/);
  for (const [name, data] of params) assert.equal(data, ckpt.tensors.get(name)!.toFloat32(), name);
});

test('foreign names and module order: matched by shape order to the same values, ambiguity reported', async () => {
  const plain = await readCheckpoint(fixture('plain.pt'));
  const other = await readCheckpoint(fixture('foreign.pt'));
  const { arch, evidence } = inferArchitecture(other.tensors, 'foreign.pt');
  assert.equal(arch, fixtureArch());
  assert.ok(evidence.some((e) => e.includes('identified by shape alone')), 'fc registered before the encoder is noticed');
  const { params, report } = mapStateDict(arch, other.tensors, 'foreign.pt');
  assert.ok(report.entries.every((e) => e.how === 'shape-order'));
  assert.match(report.summary, /by shape order/);
  for (const [name, data] of params) assert.equal(data, plain.tensors.get(name)!.toFloat32(), `${name} (from ${report.entries.find((e) => e.canonical === name)?.source})`);
  const c = 8 * expected.width;
  const ambiguity = report.notes.find((n) => n.includes(`[${c},${c},4,4] fits both a convolution and a transposed convolution`));
  assert.ok(ambiguity, report.notes.join('\n'));
  assert.match(ambiguity!, /-> encoder\.4\.conv, dec\.0 -> decoder\.0\.conv/);
  assert.ok(report.notes.some((n) => n.includes('different order')), report.notes.join('\n'));
});

test('Lightning and published checkpoints map by name after prefix stripping', async () => {
  for (const file of ['lightning.ckpt', 'published.ckpt']) {
    const ckpt = await readCheckpoint(fixture(file));
    const { arch } = inferArchitecture(ckpt.tensors, file);
    assert.equal(arch, fixtureArch(), file);
    assert.ok(mapStateDict(arch, ckpt.tensors, file).report.entries.every((e) => e.how === 'name'), file);
  }
});

test('wrong shapes, missing and extra tensors are errors naming the tensor', async () => {
  const ckpt = await readCheckpoint(fixture('plain.pt'));
  const arch = fixtureArch();
  const edit = (f: (m: Map<string, HostTensor>) => void) => {
    const m = new Map(ckpt.tensors);
    f(m);
    return m;
  };
  const w = expected.width;
  const wrong = edit((m) => m.set('encoder.2.conv.weight', new FakeTensor([4 * w, 2 * w, 3, 3], new Float32Array(72 * w * w))));
  throwsFormat(() => mapStateDict(arch, wrong, 'model.ckpt'), new RegExp(`^model\\.ckpt: tensor encoder\\.2\\.conv\\.weight has shape \\[${4 * w},${2 * w},3,3\\], expected \\[${4 * w},${2 * w},4,4\\]$`));
  const missing = edit((m) => m.delete('decoder.1.bn.running_var'));
  throwsFormat(() => mapStateDict(arch, missing, 'model.ckpt'), /^model\.ckpt: missing tensor decoder\.1\.bn\.running_var$/);
  const extra = edit((m) => m.set('head.weight', new FakeTensor([2, 2], new Float32Array(4))));
  throwsFormat(() => mapStateDict(arch, extra, 'model.ckpt'), /^model\.ckpt: unexplained tensor head\.weight \(not in the architecture\)$/);

  const other = await readCheckpoint(fixture('foreign.pt'));
  const without = new Map(other.tensors);
  without.delete('dec.4.weight');
  without.delete('dec.4.bias');
  throwsFormat(() => mapStateDict(arch, without, 'foreign.pt'), /^foreign\.pt: no checkpoint tensors for decoder\.1\.conv \(conv: bias \[\d+\], weight \[[\d,]+\]\)/);
  const withExtra = new Map(other.tensors).set('aux.weight', new FakeTensor([4, 2, 4, 4], new Float32Array(128))).set('aux.bias', new FakeTensor([4], new Float32Array(4)));
  throwsFormat(() => mapStateDict(arch, withExtra, 'foreign.pt'), /^foreign\.pt: unexplained tensors? .*aux\./);
  const odd = new Map(other.tensors).set('x.weight', new FakeTensor([3], new Float32Array(3)));
  throwsFormat(() => mapStateDict(arch, odd, 'foreign.pt'), /cannot tell what layer holds x\.weight \[3\]/);
});

test('the reference at width 64 is recognised from shapes alone: 34,849,667 parameters', () => {
  const ref = referenceArchitecture(64);
  const { arch } = inferArchitecture(shapesOnly(ref), 'reference-64');
  assert.equal(arch, ref);
  assert.is(parameterCount(arch), 34849667);
  // Under Sequential-style names the same list gives the same architecture.
  const names = new Map(modulesOf(parameterList(ref)).map((m, i) => [m.prefix, `seq.${i}`]));
  const renamed = shapesOnly(ref, (n) => `${names.get(n.slice(0, n.lastIndexOf('.')))}${n.slice(n.lastIndexOf('.'))}`);
  const again = inferArchitecture(renamed, 'reference-64-renamed');
  assert.equal(again.arch, ref);
  assert.is(parameterCount(again.arch), 34849667);
});

test("the 'enc4-res' placement is told apart from the reference by module order", () => {
  for (const w of [64, 3]) {
    const { arch, evidence } = inferArchitecture(shapesOnly(referenceArchitecture(w, 'enc4-res')), 'enc4');
    assert.equal(arch, referenceArchitecture(w, 'enc4-res'));
    assert.ok(evidence.some((e) => e.includes("the 'enc4-res' placement")), evidence.join('\n'));
  }
});

test('residual blocks registered apart from their stages: a fitting named placement is assumed and said so', () => {
  const rng = random(SEED);
  const arch = referenceArchitecture(4);
  const { tensors } = foreign(arch, rng, { blocksLast: true });
  const { arch: inferred, evidence } = inferArchitecture(tensors, 'blocks-last');
  assert.equal(inferred, arch);
  assert.ok(evidence.some((e) => e.includes("fit the 'reference' placement, which is assumed")), evidence.join('\n'));
});

test('random architectures under foreign names: inferred exactly, every tensor mapped to its source', () => {
  const rng = random(SEED);
  for (let round = 0; round < 40; round++) {
    const arch = randomArchitecture(rng);
    const { tensors, renamed } = foreign(arch, rng, { fcFirst: rng.next() < 0.5 });
    const what = `seed ${SEED} round ${round}: ${JSON.stringify(arch)}`;
    const { arch: inferred } = inferArchitecture(tensors, 'random');
    assert.equal(inferred, arch, what);
    const { params, report } = mapStateDict(inferred, tensors, 'random');
    for (const e of report.entries) {
      assert.is(e.source, renamed.get(e.canonical), `${what}: ${e.canonical}`);
      assert.equal(params.get(e.canonical), tensors.get(e.source)!.toFloat32(), `${what}: ${e.canonical}`);
    }
    assert.is(report.entries.length, params.size);
  }
});

test('inference failures explain themselves', () => {
  const ref = referenceArchitecture(2);
  const drop = (prefix: string) => new Map([...shapesOnly(ref)].filter(([n]) => !n.startsWith(prefix)));
  throwsFormat(() => inferArchitecture(drop('fc_decode'), 'x.pt'), /^x\.pt: cannot infer the architecture: found 1 linear layers; expected 2/);
  throwsFormat(() => inferArchitecture(drop('decoder.4'), 'x.pt'), /found 9 4x4 convolutions; expected an even number/);
  throwsFormat(() => inferArchitecture(drop('encoder.1.blocks.0.conv2'), 'x.pt'), /residual/);
});

test.run();
