// End-to-end through the real CLI: a published-style checkpoint (model_state_dict + optimizer state +
// config, key names unlike ours) scored, reconstructed and embedded, compared with PyTorch goldens.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parameterList } from '../../src/graph/architecture.js';
import { readNpy } from '../../src/io/npy.js';
import { writeNpy } from '../../src/node/npy-file.js';
import { ARCHITECTURE_METADATA_KEY, resolveWeights } from '../../src/model.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const dir = fixture('model', 'w8');
const ckpt = join(dir, 'model-published.ckpt');
const golden = (name: string) => readNpy(join(dir, name)).data;

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>) {
  assert.is(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>) {
  assert.is(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return m;
}

function ok(r: ReturnType<typeof rcae>) {
  assert.is(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  return r;
}

// Dawn's Vulkan backend itself prints these on lavapipe when the adapter is created; they are not ours.
const DAWN_NOTICE = /^Warning: maxDynamic\w+ artificially reduced/;

/** A failure is exit 1 and exactly one line on stderr (besides Dawn's own notices) that mentions `what`. */
function fails(r: ReturnType<typeof rcae>, what: RegExp) {
  assert.is(r.status, 1, `expected exit 1, got ${r.status}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !DAWN_NOTICE.test(l));
  assert.is(lines.length, 1, `expected one error line, got: ${r.stderr}`);
  assert.match(lines[0], what);
}

test('score: jsonl rows match PyTorch per-sample MSE (relative error <= 1e-4)', () => {
  const input = join(dir, 'input-cifar.npy');
  const r = ok(rcae(['score', '--model', ckpt, '--format', 'jsonl', input]));
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(rows.length, 4);
  rows.forEach((row, i) => {
    assert.equal(Object.keys(row), ['input', 'index', 'error']);
    assert.is(row.input, input);
    assert.is(row.index, i);
  });
  const rel = maxRel(rows.map((x) => x.error), golden('mse-cifar.npy'));
  assert.ok(rel <= 1e-4, `relative MSE error ${rel}`);
});

test('score: csv and table formats, and --out writes the same rows to a file', () => {
  const input = join(dir, 'input-random.npy');
  const csv = ok(rcae(['score', '--model', ckpt, '--format', 'csv', input])).stdout.trim().split('\n');
  assert.is(csv[0], 'input,index,error');
  assert.is(csv.length, 4);
  const table = ok(rcae(['score', '--model', ckpt, '--format', 'table', input])).stdout.trim().split('\n');
  assert.match(table[0], /^input\s+index\s+error$/);
  assert.is(table.length, 5);
  const out = join(tempDir(), 'scores.jsonl');
  const r = ok(rcae(['score', '--model', ckpt, '--out', out, input]));
  assert.is(r.stdout, '');
  assert.is(readFileSync(out, 'utf8').trim().split('\n').length, 3);
});

test('reconstruct and embed: outputs match PyTorch (max abs error <= 1e-4), batch 1 and > 1', () => {
  const tmp = tempDir();
  for (const [name, batchArgs] of [['cifar', ['--batch', '3']], ['random', ['--batch', '1']]] as const) {
    const input = join(dir, `input-${name}.npy`);
    const recon = join(tmp, `recon-${name}.npy`);
    ok(rcae(['reconstruct', '--model', ckpt, ...batchArgs, input, '--out', recon]));
    const r = readNpy(recon);
    assert.equal(r.shape, readNpy(input).shape);
    const reconErr = maxAbs(r.data, golden(`recon-${name}.npy`));
    assert.ok(reconErr <= 1e-4, `${name}: reconstruction max abs error ${reconErr}`);
    const latent = join(tmp, `latent-${name}.npy`);
    ok(rcae(['embed', '--model', ckpt, ...batchArgs, input, '--out', latent]));
    const z = readNpy(latent);
    assert.equal(z.shape, readNpy(join(dir, `latent-${name}.npy`)).shape);
    const latentErr = maxAbs(z.data, golden(`latent-${name}.npy`));
    assert.ok(latentErr <= 1e-4, `${name}: latent max abs error ${latentErr}`);
  }
});

test('reconstruct --grid draws inputs over reconstructions over an error heat map', async () => {
  const grid = join(tempDir(), 'grid.png');
  ok(rcae(['reconstruct', '--model', ckpt, '--grid', grid, join(dir, 'input-cifar.npy')]));
  const meta = await sharp(grid).metadata();
  assert.is(meta.format, 'png');
  assert.is(meta.width, 4 * 128 + 5 * 4);
  assert.is(meta.height, 3 * 128 + 4 * 4);
  // The heat map row is not blank: the model's reconstructions differ from its inputs.
  const { data } = await sharp(grid).extract({ left: 4, top: 2 * 132 + 4, width: 128, height: 128 }).raw().toBuffer({ resolveWithObject: true });
  assert.ok(new Set(data).size > 10);
});

test('inspect reports the inventory, the inferred architecture and how tensors were matched', () => {
  const r = ok(rcae(['inspect', ckpt]));
  assert.match(r.stdout, /548,211 parameters/);
  assert.match(r.stdout, /model_state_dict/);
  assert.match(r.stdout, /shape/i);
  const json = JSON.parse(ok(rcae(['inspect', '--json', ckpt])).stdout);
  assert.is(json.parameterCount, 548211);
  assert.is(json.architecture.baseWidth, 8);
});

test('convert writes safetensors that score identically and carry the architecture', () => {
  const out = join(tempDir(), 'model.safetensors');
  ok(rcae(['convert', ckpt, '-o', out]));
  const input = join(dir, 'input-random.npy');
  const a = ok(rcae(['score', '--model', ckpt, '--format', 'jsonl', input])).stdout;
  const b = ok(rcae(['score', '--model', out, '--format', 'jsonl', input])).stdout.replaceAll(out, ckpt);
  assert.is(b, a);
  const inspected = JSON.parse(ok(rcae(['inspect', '--json', out])).stdout);
  assert.match(inspected.architectureSource.join(' '), /metadata/);
});

test('info lists the adapter and its features', () => {
  const info = JSON.parse(ok(rcae(['info', '--json'])).stdout);
  assert.ok(info.adapter, 'no adapter in rcae info --json');
  assert.ok(Array.isArray(info.features));
});

test('bad inputs: one clear line naming the file, exit 1, no partial output', async () => {
  const tmp = tempDir();
  const bytes = readFileSync(ckpt);
  const truncated = join(tmp, 'truncated.ckpt');
  writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  const out = join(tmp, 'r.npy');
  fails(rcae(['reconstruct', '--model', truncated, join(dir, 'input-random.npy'), '--out', out]), /truncated\.ckpt/);
  assert.not.ok(existsSync(out));

  const garbage = join(tmp, 'garbage.pt');
  writeFileSync(garbage, 'this is not a checkpoint at all');
  fails(rcae(['score', '--model', garbage, join(dir, 'input-random.npy')]), /garbage\.pt/);

  const f64 = join(tmp, 'double.npy');
  writeFileSync(f64, Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), headerFor("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 128, 128), }"), Buffer.alloc(8 * 3 * 128 * 128)]));
  fails(rcae(['score', '--model', ckpt, f64]), /double\.npy.*f8|double\.npy.*float32/);

  const shape = join(tmp, 'shape.npy');
  writeNpy(shape, new Float32Array(3 * 64 * 64), [1, 3, 64, 64]);
  fails(rcae(['score', '--model', ckpt, shape]), /shape\.npy.*\[1,3,64,64\]/);

  const notImage = join(tmp, 'photo.png');
  writeFileSync(notImage, 'not a png');
  fails(rcae(['score', '--model', ckpt, notImage]), /photo\.png/);

  fails(rcae(['score', '--model', ckpt, join(tmp, 'does-not-exist')]), /does-not-exist: no such file/);
  const emptyDir = tempDir('rcae-empty-');
  fails(rcae(['score', '--model', ckpt, emptyDir]), /rcae-empty-/);

  // Missing and mis-shaped tensors, in a file whose metadata fixes the architecture.
  const resolved = await resolveWeights(ckpt);
  const canonical = parameterList(resolved.arch).filter((p) => p.role !== 'bn.num_batches_tracked');
  const write = async (name: string, edit: (t: { name: string; shape: number[]; data: Float32Array }[]) => void) => {
    const tensors = canonical.map((p) => ({ name: p.name, shape: [...p.shape], data: resolved.params.get(p.name)! }));
    edit(tensors);
    const path = join(tmp, name);
    await writeSafetensors(path, tensors, { [ARCHITECTURE_METADATA_KEY]: JSON.stringify(resolved.arch) });
    return path;
  };
  const missing = await write('missing.safetensors', (t) => t.splice(t.findIndex((x) => x.name === 'decoder.1.bn.running_var'), 1));
  fails(rcae(['score', '--model', missing, join(dir, 'input-random.npy')]), /missing\.safetensors.*decoder\.1\.bn\.running_var/);
  const misshaped = await write('misshaped.safetensors', (t) => {
    const w = t.find((x) => x.name === 'encoder.2.conv.weight')!;
    w.shape = [w.shape[0], w.shape[1], 2, 8];
  });
  fails(rcae(['score', '--model', misshaped, join(dir, 'input-random.npy')]), /misshaped\.safetensors.*encoder\.2\.conv\.weight.*\[32,16,2,8\].*\[32,16,4,4\]/);

  assert.equal(readdirSync(tmp).filter((f) => f.includes('.tmp')), []);
  const usage = rcae(['frobnicate']);
  assert.is(usage.status, 2);
});

function headerFor(dict: string): Buffer {
  // npy v1: magic(6) + version(2) + u16 length + header, padded with spaces to a multiple of 64, ending in \n.
  const unpadded = 10 + dict.length + 1;
  const pad = (64 - (unpadded % 64)) % 64;
  const text = dict + ' '.repeat(pad) + '\n';
  const len = Buffer.alloc(2);
  len.writeUInt16LE(text.length);
  return Buffer.concat([len, Buffer.from(text, 'latin1')]);
}

test.run();
