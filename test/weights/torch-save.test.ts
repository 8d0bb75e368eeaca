// The torch.save writer: read back by rcae's own reader (random structures, tensors bit for bit),
// refused inputs, and, with PyTorch as the reference, opened by torch.load (weights_only where the
// installed torch reads every opcode used) and loaded by the project's reference class and AdamW.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeTorchCheckpoint } from '../../src/node/torch-checkpoint-file.js';
import { parseCheckpoint, readCheckpoint } from '../../src/weights/checkpoint.js';
import { PyTuple, type PyValue } from '../../src/weights/pickle.js';
import { OrderedDict, PyFloat, pyTuple, type PickleData } from '../../src/weights/pickle-writer.js';
import { publishedCheckpoint, type AdamWMoments } from '../../src/weights/published-checkpoint.js';
import { TorchTensor, encodeTorchSave } from '../../src/weights/torch-save.js';
import { isTensorRef, unpickleTorch } from '../../src/weights/torch-pickle.js';
import { ZipArchive } from '../../src/weights/zip.js';
import { throwsFormat } from './helpers.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { SEED, random } from '../helpers/random.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';

const test = suite('weights/torch-save');
const scratch = tempDir('rcae-torch-save-');
const withTorch = requires(test, torchMissing, { ci: true });

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

type Rng = ReturnType<typeof random>;

function randomTensor(rng: Rng): TorchTensor {
  const shape = Array.from({ length: rng.int(0, 4) }, () => rng.pick([0, 1, 2, 3, 5, 7]));
  const n = shape.reduce((a, b) => a * b, 1);
  if (rng.next() < 0.2) return new TorchTensor(shape, BigInt64Array.from({ length: n }, () => BigInt(rng.int(-1e9, 1e9)) * 3_000_000_007n));
  return new TorchTensor(shape, Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 10 ** rng.int(-30, 30)));
}

function randomData(rng: Rng, depth: number, floats: boolean): PickleData {
  const scalars: (() => PickleData)[] = [
    () => null, () => rng.next() < 0.5,
    () => rng.pick([0, 1, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]),
    () => rng.pick([2n ** 64n, -(2n ** 100n), 2n ** 2000n - 1n]),
    () => rng.pick(['', 'weight', 'dëc.ö ✓', 'a\nb\0c', '🙂'.repeat(rng.int(1, 40))]),
    () => randomTensor(rng),
  ];
  if (floats) scalars.push(() => rng.pick([0.5, -1e-300, 1e308, NaN, Infinity, -Infinity, -0, 5e-324]), () => new PyFloat(rng.pick([0, 1, -2, 1e3])));
  if (depth === 0 || rng.next() < 0.4) return rng.pick(scalars)();
  const items = (): PickleData[] => Array.from({ length: rng.int(0, 5) }, () => randomData(rng, depth - 1, floats));
  switch (rng.int(0, 3)) {
    case 0: return items();
    case 1: return pyTuple(...items());
    case 2: return new Map(items().map((v, i) => [rng.pick([`k${i}`, i, -i - 1]), v]));
    default: return new OrderedDict(items().map((v, i) => [`name.${i}`, v]));
  }
}

/**
 * A canonical rendering of what the writer was given and what rcae's reader built, to compare the
 * two. The reader gives every number as a JS number, so an integral PyFloat renders as an int here;
 * the PyTorch tests below tell floats from ints.
 */
function render(v: unknown, read: (t: PyValue) => Float32Array | BigInt64Array): unknown {
  if (v instanceof PyFloat) return render(v.value, read);
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { int: String(v) } : { float: v };
  if (typeof v === 'bigint') return { int: String(v) };
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return { list: v.map((x) => render(x, read)) };
  if (v instanceof PyTuple) return { tuple: v.items.map((x) => render(x, read)) };
  // The reader gives OrderedDicts as Maps too; the order of entries is what a state dict needs.
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [render(k, read), render(x, read)]) };
  if (v instanceof TorchTensor) return { tensor: v.shape, bytes: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64') };
  if (isTensorRef(v as PyValue)) {
    const data = read(v as PyValue);
    return { tensor: (v as { shape: number[] }).shape, bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  }
  throw new Error(`unexpected value ${String(v)}`);
}

/** Reads an archive back with rcae's reader: the data.pkl and the tensors' storages. */
function readBack(bytes: Uint8Array): unknown {
  const zip = ZipArchive.open(bytes, 'written');
  assert.equal([...zip.entries.keys()].filter((n) => !n.startsWith('archive/data/')), ['archive/data.pkl', 'archive/byteorder', 'archive/version']);
  assert.is(new TextDecoder().decode(zip.read('archive/version')), '3\n');
  for (const e of zip.entries.values()) assert.is(e.dataOffset % 64, 0, `${e.name} aligned`);
  const root = unpickleTorch(zip.read('archive/data.pkl'), 'written');
  return render(root, (t) => {
    const ref = t as unknown as { storage: { key: string; dtype: string; numel: number } };
    const raw = new Uint8Array(zip.read(`archive/data/${ref.storage.key}`));
    return ref.storage.dtype === 'f32' ? new Float32Array(raw.buffer, 0, ref.storage.numel) : new BigInt64Array(raw.buffer, 0, ref.storage.numel);
  });
}

test('round trip through rcae reader: random nested data, ints of every width, floats, tensors bit for bit', () => {
  const rng = random(SEED);
  for (let round = 0; round < 40; round++) {
    const data = randomData(rng, 4, true);
    const bytes = concat(encodeTorchSave('round.pt', data));
    assert.equal(readBack(bytes), render(data, () => assert.unreachable('writer side has no refs') as never), `seed ${SEED} round ${round}`);
  }
});

test('tensors sharing one array share one storage; an OrderedDict is written as collections.OrderedDict', () => {
  const shared = Float32Array.of(1, 2, 3, 4);
  const bytes = concat(encodeTorchSave('shared.pt', new OrderedDict<PickleData, PickleData>([['a', new TorchTensor([4], shared)], ['b', new TorchTensor([2, 2], shared)]])));
  const zip = ZipArchive.open(bytes, 'shared.pt');
  assert.equal([...zip.entries.keys()].filter((n) => n.startsWith('archive/data/')), ['archive/data/0']);
  assert.ok(Buffer.from(zip.read('archive/data.pkl')).includes('collections\nOrderedDict\n'));
});

function adamwFixture(rng: Rng): { stateDict: Map<string, TorchTensor>; moments: Map<string, AdamWMoments>; names: string[] } {
  const stateDict = new Map<string, TorchTensor>();
  const moments = new Map<string, AdamWMoments>();
  const names = ['enc.weight', 'enc.bias', 'fc.weight'];
  for (const [i, name] of names.entries()) {
    const shape = [[4, 3, 2, 2], [4], [5, 7]][i];
    const n = shape.reduce((a, b) => a * b, 1);
    const values = (): Float32Array => Float32Array.from({ length: n }, () => rng.next() - 0.5);
    stateDict.set(name, new TorchTensor(shape, values()));
    moments.set(name, { expAvg: values(), expAvgSq: values().map(Math.abs) });
  }
  stateDict.set('bn.num_batches_tracked', new TorchTensor([], BigInt64Array.of(7n)));
  return { stateDict, moments, names };
}

test('published layout: rcae reads the weights under model_state_dict and the epoch and config beside them', async () => {
  const { stateDict, moments, names } = adamwFixture(random(SEED));
  const path = join(scratch, 'published.ckpt');
  await writeTorchCheckpoint(path, publishedCheckpoint({
    stateDict, parameterNames: names, step: 3, moments, epoch: 4,
    hyper: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-5 }, config: { width: 8, dropout: 0.1, name: 'rcae' },
  }));
  const ckpt = await readCheckpoint(path);
  assert.is(ckpt.stateDictKey, 'model_state_dict');
  assert.equal([...ckpt.tensors.keys()], [...stateDict.keys()]);
  for (const [name, t] of stateDict) {
    const back = ckpt.tensors.get(name)!;
    assert.equal(back.shape, t.shape, name);
    assert.equal([...back.toFloat32()], [...t.data].map(Number), name);
  }
  assert.equal(ckpt.metadata, { epoch: '4', 'config.width': '8', 'config.dropout': '0.1', 'config.name': 'rcae' });
  assert.equal(ckpt.skipped, ['optimizer_state_dict']);
});

test('refused: a container holding itself, nesting past the bound, a shape that does not hold the values, an unknown type', () => {
  const loop: PickleData[] = [];
  loop.push(loop);
  throwsFormat(() => encodeTorchSave('loop.pt', loop), /^loop\.pt: cannot write: a container holds itself$/);
  let deep: PickleData = 1;
  for (let i = 0; i < 300; i++) deep = [deep];
  throwsFormat(() => encodeTorchSave('deep.pt', deep), /nest deeper than 256/);
  throwsFormat(() => encodeTorchSave('shape.pt', new TorchTensor([2, 3], new Float32Array(5))), /^shape\.pt: cannot write: tensor of shape \[2,3\] is given 5 values$/);
  throwsFormat(() => encodeTorchSave('neg.pt', new TorchTensor([-1], new Float32Array(0))), /tensor shape \[-1\]/);
  throwsFormat(() => encodeTorchSave('date.pt', new Map([['when', new Date(0) as unknown as PickleData]])), /a value of type Date has no pickle form/);
  throwsFormat(() => encodeTorchSave('big.pt', 2n ** 4096n), /integer of 513 bytes is too large/);
});

// ---- PyTorch as the reference ----

const TORCH_CHECK = String.raw`
import hashlib, json, struct, sys, collections
import torch
sys.path.insert(0, 'tools')
mode, path = sys.argv[1], sys.argv[2]

def render(v):
    if isinstance(v, bool) or v is None or isinstance(v, str): return v
    if isinstance(v, int): return {'int': str(v)}
    if isinstance(v, float): return {'floatbits': struct.pack('>d', v).hex()}
    if isinstance(v, list): return {'list': [render(x) for x in v]}
    if isinstance(v, tuple): return {'tuple': [render(x) for x in v]}
    if isinstance(v, dict): return {'dict': [[render(k), render(x)] for k, x in v.items()]}
    if isinstance(v, torch.Tensor):
        return {'tensor': list(v.shape), 'dtype': str(v.dtype), 'sha256': hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()}
    raise TypeError(type(v))

def load(path):
    try:
        return torch.load(path, weights_only=True), 'weights_only'
    except Exception as e:
        # torch 1.13's weights_only unpickler has no BINFLOAT (later releases read it).
        if 'Unsupported operand 71' not in str(e): raise
        return torch.load(path), 'full unpickler: ' + str(e).split('error: ')[-1]

if mode == 'make':
    from rcae_model import ResidualConvAutoencoder, reference_arch
    torch.manual_seed(7)
    model = ResidualConvAutoencoder(reference_arch(w=8, latent_dim=16))
    torch.save(model.state_dict(), path)
    print(json.dumps([n for n, _ in model.named_parameters()]))
elif mode == 'data':
    v, how = load(path)
    print(json.dumps({'how': how, 'value': render(v), 'odict': type(v) is collections.OrderedDict}))
else:
    from rcae_model import ResidualConvAutoencoder, reference_arch
    ck, how = load(path)
    model = ResidualConvAutoencoder(reference_arch(w=8, latent_dim=16))
    model.load_state_dict(ck['model_state_dict'], strict=True)
    opt = torch.optim.AdamW(model.parameters())
    opt.load_state_dict(ck['optimizer_state_dict'])
    out = {'how': how, 'keys': list(ck.keys()), 'epoch': ck['epoch'], 'config': render(ck['config']),
           'model': {k: render(t) for k, t in model.state_dict().items()},
           'state': render(opt.state_dict()['state']), 'groups': render(opt.state_dict()['param_groups'])}
    # The loaded state must drive a real step: torch checks the step is a singleton tensor.
    for p in model.parameters(): p.grad = torch.ones_like(p)
    opt.step()
    out['stepped'] = float(opt.state_dict()['state'][0]['step'])
    print(json.dumps(out))
`;

function runTorch(mode: string, path: string): any {
  const r = spawnSync(python, ['-c', TORCH_CHECK, mode, path], { cwd: repoRoot, env: pythonEnv, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`python ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The rendering TORCH_CHECK prints, of what the writer was given. */
function renderLikeTorch(v: unknown): unknown {
  if (v instanceof PyFloat || (typeof v === 'number' && !Number.isSafeInteger(v))) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v instanceof PyFloat ? v.value : (v as number));
    return { floatbits: b.toString('hex') };
  }
  if (typeof v === 'number' || typeof v === 'bigint') return { int: String(v) };
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return { list: v.map(renderLikeTorch) };
  if (v instanceof PyTuple) return { tuple: v.items.map(renderLikeTorch) };
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [renderLikeTorch(k), renderLikeTorch(x)]) };
  if (v instanceof TorchTensor) {
    const bytes = Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    return { tensor: v.shape, dtype: v.data instanceof Float32Array ? 'torch.float32' : 'torch.int64', sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  throw new Error(`unexpected value ${String(v)}`);
}

withTorch('torch.load(weights_only=True) reads random float-free data exactly (ints of every width, str, tensors)', async () => {
  const rng = random(SEED);
  const data = new OrderedDict<PickleData, PickleData>(Array.from({ length: 8 }, (_, i) => [`root${i}`, randomData(rng, 4, false)]));
  data.set('t', randomTensor(rng));
  const path = join(scratch, 'data.pt');
  await writeTorchCheckpoint(path, data);
  const got = runTorch('data', path);
  assert.is(got.how, 'weights_only', `seed ${SEED}`);
  assert.ok(got.odict, 'an OrderedDict comes back as collections.OrderedDict');
  assert.equal(got.value, renderLikeTorch(data), `seed ${SEED}`);
});

withTorch('torch.load reads floats exactly (weights_only where torch reads BINFLOAT, else only that opcode is missing)', async () => {
  const rng = random(SEED);
  const data = new Map<PickleData, PickleData>([['floats', [0.5, -1e-300, 1e308, NaN, Infinity, -Infinity, -0, 5e-324, new PyFloat(1)]], ['rest', randomData(rng, 3, true)]]);
  const path = join(scratch, 'floats.pt');
  await writeTorchCheckpoint(path, data);
  const got = runTorch('data', path);
  assert.match(got.how, /^(weights_only|full unpickler: Unsupported operand 71)$/);
  assert.equal(got.value, renderLikeTorch(data), `seed ${SEED}`);
});

withTorch('published layout: the reference class loads model_state_dict strictly, AdamW loads and steps the optimizer state', async () => {
  const source = join(scratch, 'reference.pt');
  const paramNames: string[] = runTorch('make', source);
  const original = await readCheckpoint(source);
  const stateDict = new Map<string, TorchTensor>();
  for (const [name, t] of original.tensors) {
    const values = t.toFloat32();
    stateDict.set(name, new TorchTensor(t.shape, t.dtype === 'i64' ? BigInt64Array.from(values, (x) => BigInt(x)) : values));
  }
  const rng = random(SEED);
  const moments = new Map(paramNames.map((name): [string, AdamWMoments] => {
    const n = stateDict.get(name)!.data.length;
    return [name, { expAvg: Float32Array.from({ length: n }, () => rng.next() - 0.5), expAvgSq: Float32Array.from({ length: n }, () => rng.next()) }];
  }));
  const config = { architecture: { baseWidth: 8, latentDim: 16 }, batch_size: 4, learning_rate: 0.001, weight_decay: 1e-5 };
  const layout = publishedCheckpoint({ stateDict, parameterNames: paramNames, step: 3, moments, epoch: 2, hyper: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-5 }, config });
  const path = join(scratch, 'model.ckpt');
  await writeTorchCheckpoint(path, layout);
  const got = runTorch('check', path);
  assert.match(got.how, /^(weights_only|full unpickler: Unsupported operand 71)$/);
  assert.equal(got.keys, ['model_state_dict', 'optimizer_state_dict', 'epoch', 'config']);
  assert.is(got.epoch, 2);
  assert.equal(got.config, renderLikeTorch(layout.get('config')));
  for (const [name, t] of stateDict) assert.equal(got.model[name], renderLikeTorch(t), name);
  const optimizer = layout.get('optimizer_state_dict') as Map<PickleData, PickleData>;
  assert.equal(got.state, renderLikeTorch(optimizer.get('state')));
  assert.equal(got.groups, renderLikeTorch(optimizer.get('param_groups')));
  assert.is(got.stepped, 4);
  // And rcae reads the same file as a model.
  assert.equal([...parseCheckpoint(readFileSync(path), path).tensors.keys()], [...stateDict.keys()]);
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));
test.run();
