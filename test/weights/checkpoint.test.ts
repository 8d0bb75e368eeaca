import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCheckpoint, readCheckpoint } from '../../src/weights/checkpoint.js';
import { WeightsFormatError } from '../../src/weights/format-error.js';
import { InertObject, UnknownGlobal } from '../../src/weights/pickle.js';
import { unpickleTorch } from '../../src/weights/torch-pickle.js';
import { ZipArchive } from '../../src/weights/zip.js';
import { assertBits, buildZip, digest, expected, fixture, rejectsFormat, throwsFormat } from './helpers.js';
import { SEED, random } from '../helpers/random.js';

const test = suite('weights/checkpoint');
const scratch = mkdtempSync(join(tmpdir(), 'rcae-weights-'));

/** The fixture re-zipped with its data.pkl edited (re-zipping keeps the CRCs right). */
function withPickle(name: string, edit: (pkl: Buffer) => void): Uint8Array {
  const zip = ZipArchive.open(readFileSync(fixture(name)), name);
  return buildZip([...zip.entries.keys()].map((entry) => {
    const data = Buffer.from(zip.read(entry));
    if (entry.endsWith('/data.pkl')) edit(data);
    return { name: entry, data };
  }));
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
}

test('plain state dict: every tensor matches torch (shape, dtype, values)', async () => {
  const ckpt = await readCheckpoint(fixture('plain.pt'));
  assert.is(ckpt.format, 'torch-zip');
  assert.is(ckpt.stateDictKey, null);
  assert.is(ckpt.keyPrefix, '');
  assert.equal([...ckpt.tensors.keys()], Object.keys(expected.plain), 'names in file order');
  for (const [name, want] of Object.entries(expected.plain)) {
    const t = ckpt.tensors.get(name)!;
    assert.equal(t.shape, want.shape, name);
    assert.is(t.dtype, name.endsWith('num_batches_tracked') ? 'i64' : 'f32', name);
    const [sum, weighted] = digest(t.toFloat32());
    assert.ok(close(sum, want.digest[0]) && close(weighted, want.digest[1]), `${name}: digest ${sum},${weighted} vs torch ${want.digest}`);
  }
});

test('published-style dict: weights under model_state_dict, scalars kept, optimizer state skipped', async () => {
  const ckpt = await readCheckpoint(fixture('published.ckpt'));
  assert.is(ckpt.stateDictKey, 'model_state_dict');
  assert.equal([...ckpt.tensors.keys()], Object.keys(expected.plain));
  // The values make_weight_fixtures.py stored next to the weights.
  assert.equal(ckpt.metadata, {
    epoch: '12', loss: '0.03125', best_loss: '0.0625',
    'config.latent_dim': '8', 'config.dropout': '0.1', 'config.name': 'rcae',
    'args.lr': '0.001', 'args.batch_size': '64', 'args.data': 'cifar10',
  });
  assert.equal(ckpt.skipped, ['optimizer_state_dict']);
});

test('Lightning checkpoint: state_dict with the model. prefix stripped', async () => {
  const ckpt = await readCheckpoint(fixture('lightning.ckpt'));
  assert.is(ckpt.stateDictKey, 'state_dict');
  assert.is(ckpt.keyPrefix, 'model.');
  assert.equal([...ckpt.tensors.keys()], Object.keys(expected.plain));
  assert.is(ckpt.metadata['hyper_parameters.latent_dim'], '8');
  assert.is(ckpt.metadata['pytorch-lightning_version'], '2.1.0');
  assert.equal(ckpt.skipped, ['lr_schedulers', 'callbacks']);
});

test('fp16, bf16, f64 and integer tensors under model with a DataParallel module. prefix', async () => {
  const ckpt = await readCheckpoint(fixture('dtypes.pt'));
  assert.is(ckpt.stateDictKey, 'model');
  assert.is(ckpt.keyPrefix, 'module.');
  const dtypes: Record<string, string> = { f16: 'f16', bf16: 'bf16', f64: 'f64', i64: 'i64', i32: 'i32', u8: 'u8', bool: 'bool', scalar: 'f32' };
  for (const [name, want] of Object.entries(expected.dtypes)) {
    const t = ckpt.tensors.get(name)!;
    assert.is(t.dtype, dtypes[name], name);
    assert.equal(t.shape, want.shape, name);
    assertBits(t.toFloat32(), want.bits, name);
  }
});

test('non-contiguous views (permuted, sliced, expanded, transposed fp16, offset row) read in logical order', async () => {
  const ckpt = await readCheckpoint(fixture('views.pt'));
  for (const [name, want] of Object.entries(expected.views)) {
    const t = ckpt.tensors.get(name)!;
    assert.equal(t.shape, want.shape, name);
    assertBits(t.toFloat32(), want.bits, name);
  }
  assert.equal(expected.views_strides.expanded, [1, 0], 'the fixture really holds a stride-0 view');
});

test('a malicious pickle: os.system and eval payloads stay inert and never run', async () => {
  if (existsSync(expected.sentinel)) unlinkSync(expected.sentinel);
  const ckpt = await readCheckpoint(fixture('malicious.pt'));
  assert.not.ok(existsSync(expected.sentinel), 'the payload ran');
  assert.is(ckpt.stateDictKey, 'state_dict');
  assert.equal(ckpt.skipped, ['payload', 'hook']);
  for (const [name, want] of Object.entries(expected.malicious)) assertBits(ckpt.tensors.get(name)!.toFloat32(), want.bits, name);
  const zip = ZipArchive.open(readFileSync(fixture('malicious.pt')), 'malicious.pt');
  const root = unpickleTorch(zip.read('malicious/data.pkl'), 'malicious.pt') as Map<string, unknown>;
  const payload = root.get('payload') as InertObject;
  assert.instance(payload, InertObject);
  assert.instance(payload.callable, UnknownGlobal);
  assert.is((payload.callable as UnknownGlobal).qualifiedName, 'posix.system');
  assert.equal(payload.args, [`touch ${expected.sentinel}`]);
  assert.is(((root.get('hook') as InertObject).callable as UnknownGlobal).qualifiedName, '__builtin__.eval');
});

test('safetensors written by an independent writer', async () => {
  const ckpt = await readCheckpoint(fixture('reference.safetensors'));
  assert.is(ckpt.format, 'safetensors');
  assert.equal(ckpt.metadata, { format: 'pt', note: 'written by make_weight_fixtures.py' });
  assert.equal([...ckpt.tensors.keys()], Object.keys(expected.safetensors));
  for (const [name, want] of Object.entries(expected.safetensors)) {
    assert.equal(ckpt.tensors.get(name)!.shape, want.shape, name);
    assertBits(ckpt.tensors.get(name)!.toFloat32(), want.bits, name);
  }
});

test('the format comes from the first bytes, not the extension', async () => {
  const asSafetensors = join(scratch, 'really-a-zip.safetensors');
  writeFileSync(asSafetensors, readFileSync(fixture('dtypes.pt')));
  assert.is((await readCheckpoint(asSafetensors)).format, 'torch-zip');
  const asCkpt = join(scratch, 'really-safetensors.ckpt');
  writeFileSync(asCkpt, readFileSync(fixture('reference.safetensors')));
  assert.is((await readCheckpoint(asCkpt)).format, 'safetensors');
  const text = join(scratch, 'notes.pt');
  writeFileSync(text, 'hello, this is not a model\n');
  await rejectsFormat(readCheckpoint(text), /notes\.pt: not a checkpoint/);
});

test('legacy torch.save files, pickled modules and files without a state dict get clear errors', async () => {
  await rejectsFormat(readCheckpoint(fixture('legacy.pt')), /legacy\.pt: legacy torch\.save format not supported; re-save with torch>=1\.6$/);
  await rejectsFormat(readCheckpoint(fixture('module.pt')), /module\.pt: no state dict found: the file holds a torch\.nn\.modules\.linear\.Linear object/);
  // A dict without a recognisable state dict: malicious.pt with its state_dict key renamed.
  const renamed = withPickle('malicious.pt', (pkl) => pkl.write('state_dicx', pkl.indexOf('state_dict')));
  throwsFormat(() => parseCheckpoint(renamed, 'renamed.pt'), /^renamed\.pt: no state dict found: top-level keys are state_dicx \(dict\), payload \(posix\.system object\), hook \(__builtin__\.eval object\)$/);
});

test('truncated files and corrupt zips fail with one line naming the file', async () => {
  const bytes = readFileSync(fixture('dtypes.pt'));
  for (const cut of [0, 3, 100, bytes.length >> 1, bytes.length - 30, bytes.length - 1]) {
    const path = join(scratch, `cut-${cut}.pt`);
    writeFileSync(path, bytes.subarray(0, cut));
    const err = await rejectsFormat(readCheckpoint(path), /./, `cut at ${cut}`);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    assert.not.match(err.message, /\n/);
  }
  const corrupt = Buffer.from(bytes);
  corrupt.fill(0x41, bytes.length - 200, bytes.length - 100);
  throwsFormat(() => parseCheckpoint(corrupt, 'corrupt.pt'), /^corrupt\.pt: (corrupt|truncated) zip/);
});

/** Any outcome but a WeightsFormatError or a clean read (including toFloat32 of every tensor) is a bug. */
function survives(bytes: Uint8Array, what: string): void {
  try {
    const ckpt = parseCheckpoint(bytes, 'fuzz.pt');
    for (const t of ckpt.tensors.values()) t.toFloat32();
  } catch (err) {
    if (!(err instanceof WeightsFormatError)) throw new Error(`${what}: ${(err as Error).stack}`);
  }
}

test('random corruption of the file and of the pickle never escapes as anything but a format error', () => {
  const rng = random(SEED);
  const file = readFileSync(fixture('views.pt'));
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(file);
    const flips = rng.int(1, 8);
    for (let k = 0; k < flips; k++) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    survives(rng.next() < 0.2 ? b.subarray(0, rng.int(0, b.length)) : b, `seed ${SEED} file mutation ${i}`);
  }
  // The CRC catches edits to stored data, so corrupt the pickle and re-zip it: this attacks the
  // unpickler, the tensor records and their bounds checks.
  for (let i = 0; i < 500; i++) {
    const b = withPickle('views.pt', (pkl) => {
      const flips = rng.int(1, 4);
      for (let k = 0; k < flips; k++) pkl[rng.int(0, pkl.length - 1)] = rng.pick([0, 1, 2, 0x7f, 0x80, 0xff, rng.int(0, 255)]);
    });
    survives(b, `seed ${SEED} pickle mutation ${i}`);
  }
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
