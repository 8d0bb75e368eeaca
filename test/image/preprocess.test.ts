import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeRgb8,
  ImageError,
  listImageFiles,
  loadImageTensor,
  resizeBilinearPil,
  toNormalizedChw,
} from '../../src/image/preprocess.js';
import { readNpy } from '../../src/io/npy.js';
import { readTarEntries } from '../../src/io/tar.js';
import { datasetMissing, datasetPath, fixturePath, readJson } from '../io/fixtures.js';
import { requires } from '../helpers/skip.js';

const test = suite('image preprocessing');
const dir = fixturePath('images');
const names = readJson<{ cifar: { archive: string; members: string[] }; synthetic: { file: string; how: string }[]; size: number }>(
  join(dir, 'names.json'),
);
const SIZE = names.size;
const PER = SIZE * SIZE * 3;

/** Largest per-byte difference and the number of differing bytes. */
function compare(got: Uint8Array, want: Float32Array): { max: number; count: number } {
  let max = 0;
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (d) count++;
    max = Math.max(max, d);
  }
  return { max, count };
}

async function rejectsImage(promise: Promise<unknown>, ...parts: string[]): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, ImageError, (err as Error).message);
    for (const p of parts) assert.ok((err as Error).message.includes(p), `"${(err as Error).message}" lacks "${p}"`);
    return;
  }
  assert.unreachable(`expected an ImageError mentioning ${parts.join(', ')}`);
}

requires(test, datasetMissing(names.cifar.archive), { ci: true })('CIFAR-10 JPEGs decode and resize exactly as PIL does', async () => {
  const archive = datasetPath(names.cifar.archive);
  const golden = readNpy(join(dir, 'cifar-pil.npy'));
  assert.equal(golden.shape, [names.cifar.members.length, SIZE, SIZE, 3]);
  const wanted = new Set(names.cifar.members);
  const found = new Map<string, Buffer>();
  for await (const e of readTarEntries(archive, (n) => wanted.has(n))) found.set(e.name, e.data);
  let worst = 0;
  for (const [i, member] of names.cifar.members.entries()) {
    const data = found.get(member);
    assert.ok(data, `${member} is in ${archive}`);
    const img = await decodeRgb8(data!, member);
    assert.equal([img.width, img.height], [32, 32]);
    const want = golden.data.subarray(i * PER, (i + 1) * PER);
    const { max, count } = compare(resizeBilinearPil(img.data, 32, 32, SIZE, SIZE), want);
    worst = Math.max(worst, max);
    assert.is(count, 0, `${member}: ${count} bytes differ from PIL (max ${max})`);
    const tensor = await loadImageTensor(data!, SIZE, member);
    assert.equal(Array.from(tensor), Array.from(toNormalizedChw(Uint8Array.from(want), SIZE, SIZE)), member);
  }
  assert.is(worst, 0);
});

test('grey, RGBA, palette, 16-bit, GIF, large JPEG, one-axis and EXIF-rotated inputs match their goldens', async () => {
  const golden = readNpy(join(dir, 'synthetic-pil.npy'));
  assert.is(golden.shape[0], names.synthetic.length);
  for (const [i, c] of names.synthetic.entries()) {
    const tensor = await loadImageTensor(join(dir, c.file), SIZE);
    const want = toNormalizedChw(Uint8Array.from(golden.data.subarray(i * PER, (i + 1) * PER)), SIZE, SIZE);
    const bad = tensor.findIndex((v, k) => v !== want[k]);
    assert.is(bad, -1, `${c.file} (${c.how}): first difference at element ${bad}`);
  }
});

test('EXIF orientation is applied: the stored 48x32 JPEG decodes upright as 32x48', async () => {
  const img = await decodeRgb8(join(dir, 'synthetic', 'exif-rotated.jpg'));
  assert.equal([img.width, img.height], [32, 48]);
  assert.is(img.data.length, 32 * 48 * 3);
});

test('normalisation equals torch ToTensor + Normalize(0.5, 0.5) in float32, laid out CHW', () => {
  const lut = readNpy(join(dir, 'normalize-u8.npy')).data;
  // A 256x1 image whose R, G, B planes hold each byte value in a different order.
  const channelValue = [(p: number) => p, (p: number) => 255 - p, (p: number) => (p * 7) % 256];
  const all = Uint8Array.from({ length: 256 * 3 }, (_, i) => channelValue[i % 3](Math.floor(i / 3)));
  const chw = toNormalizedChw(all, 256, 1);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 256; p++) assert.is(chw[c * 256 + p], lut[channelValue[c](p)], `pixel ${p} channel ${c}`);
  }
  const [w, h] = [7, 5];
  const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(Math.random() * 256));
  const out = toNormalizedChw(rgb, w, h);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < w * h; p++) assert.ok(Math.abs(out[c * w * h + p] - (rgb[p * 3 + c] / 255 - 0.5) / 0.5) < 1e-7);
  }
  assert.throws(() => toNormalizedChw(rgb, w, h + 1), RangeError);
});

test('unreadable, truncated, oversized and non-raster inputs are errors naming the input', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rcae-img-'));
  try {
    const text = join(tmp, 'notes.jpg');
    writeFileSync(text, 'this is not a JPEG');
    await rejectsImage(decodeRgb8(text), text, 'cannot decode image');
    const cut = join(tmp, 'cut.jpg');
    const jpeg = readFileSync(join(dir, 'synthetic', 'large.jpg'));
    writeFileSync(cut, jpeg.subarray(0, jpeg.length >> 1));
    await rejectsImage(loadImageTensor(cut), cut);
    await rejectsImage(decodeRgb8(join(dir, 'synthetic', 'oversized-header.png')), 'oversized-header.png', 'pixel limit');
    await rejectsImage(decodeRgb8(Buffer.alloc(0), 'archive.tar#empty.png'), 'archive.tar#empty.png');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>');
    await rejectsImage(decodeRgb8(svg, 'drawing.png'), 'drawing.png', 'unsupported format svg');
    await rejectsImage(decodeRgb8(join(tmp, 'missing.png')), 'missing.png');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('listImageFiles: recursive, sorted, skips dot-files and non-images, clear errors', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rcae-list-'));
  try {
    const touch = (p: string) => {
      mkdirSync(join(tmp, p, '..'), { recursive: true });
      writeFileSync(join(tmp, p), '');
    };
    ['set/b.jpg', 'set/A.PNG', 'set/sub/c.webp', 'set/sub/deeper/d.TIFF', 'set/a.jpeg', 'set/.hidden.jpg', 'set/._e.jpg',
      'set/.cache/f.jpg', 'set/notes.txt', 'set/g.bmp', 'empty/readme.md'].forEach(touch);
    symlinkSync('..', join(tmp, 'set', 'sub', 'deeper', 'loop')); // a cycle back to set/sub
    const set = join(tmp, 'set');
    assert.equal(listImageFiles(set), ['A.PNG', 'a.jpeg', 'b.jpg', 'sub/c.webp', 'sub/deeper/d.TIFF'].map((f) => join(set, f)));
    assert.equal(listImageFiles([join(set, 'b.jpg'), join(set, 'sub'), join(set, 'a.jpeg')]), [
      join(set, 'b.jpg'),
      join(set, 'sub', 'c.webp'),
      join(set, 'sub', 'deeper', 'd.TIFF'),
      join(set, 'a.jpeg'),
    ]);
    assert.throws(() => listImageFiles(join(tmp, 'empty')), (e: Error) => e instanceof ImageError && e.message.startsWith(join(tmp, 'empty')) && /no image files/.test(e.message));
    assert.throws(() => listImageFiles(join(tmp, 'nope')), (e: Error) => e instanceof ImageError && /nope: no such file or directory/.test(e.message));
    assert.throws(() => listImageFiles(join(set, 'notes.txt')), (e: Error) => e instanceof ImageError && /notes.txt: not an image file/.test(e.message));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
