// Anomaly maps through the real CLI on the w8 fixture: an mse, an hf and a dssim map per sample, at the size
// of the image it came from (the model's for .npy samples), in sample index order across batches of
// mixed sizes, each coloured from that sample's own reconstruction; the same maps from detect; and
// none at all when the run fails.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorMaps, heatMap, mapAtSize, MAP_SCORES } from '../../src/image/anomaly-maps.js';
import { loadImageSample } from '../../src/image/preprocess.js';
import { readNpy } from '../../src/io/npy.js';
import { writeNpy } from '../../src/node/npy-file.js';
import { mulberry32 } from '../../src/graph/random-params.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const ckpt = fixture('model', 'w8', 'model-published.ckpt');
const npy = fixture('model', 'w8', 'input-cifar.npy');
const tmp = tempDir();
const SIZE = 128;
const PLANE = 3 * SIZE * SIZE;
/** The full scales the help gives: 0.25 for mse, 1 for hf. */
const FULL_SCALE = { mse: 0.25, hf: 1, dssim: 1 } as const;

async function png(name: string, width: number, height: number): Promise<string> {
  const rand = mulberry32(width * 1000 + height);
  const path = join(tmp, name);
  await sharp(Buffer.from(Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256))), { raw: { width, height, channels: 3 } }).png().toFile(path);
  return path;
}

const files = (dir: string) => readdirSync(dir).sort();

/** Checks DIR's maps of sample `index` against its input and its reconstruction in `recon`. */
async function assertMaps(dir: string, index: number, input: Float32Array, recon: Float32Array, at: { width: number; height: number } | null) {
  const { width, height } = at ?? { width: SIZE, height: SIZE };
  for (const score of MAP_SCORES) {
    const path = join(dir, `${String(index).padStart(6, '0')}.${score}.png`);
    const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    assert.equal([info.width, info.height, info.channels], [width, height, 3], path);
    const own = errorMaps(score, input, recon.subarray(index * PLANE, (index + 1) * PLANE), 1, 3, SIZE);
    const expected = heatMap(at ? mapAtSize(own, SIZE, width, height) : own, width, height, FULL_SCALE[score]);
    assert.ok(Buffer.compare(data, Buffer.from(expected.data)) === 0, `${path}: pixels differ from the map of its own sample`);
  }
}

let a: string, b: string, c: string;

test('reconstruct --maps: a 40x24 PNG gives 40x24 maps of its own error', async () => {
  a = await png('a.png', 40, 24);
  const maps = join(tmp, 'one');
  mkdirSync(maps);
  const out = join(tmp, 'one.npy');
  const r = rcae(['reconstruct', '--model', ckpt, '--maps', maps, '-o', out, a]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(files(maps), ['000000.dssim.png', '000000.hf.png', '000000.mse.png']);
  await assertMaps(maps, 0, (await loadImageSample(a)).tensor, readNpy(out).data as Float32Array, { width: 40, height: 24 });
});

test('batches of mixed sizes: each map at its own image\'s size, .npy samples at the model\'s, in index order', async () => {
  b = await png('b.png', 7, 300);
  c = await png('c.png', 200, 130);
  const maps = join(tmp, 'mixed');
  mkdirSync(maps);
  const out = join(tmp, 'mixed.npy');
  // Batches of 3: [a, npy 0, npy 1], [npy 2, npy 3, b], [c].
  const r = rcae(['reconstruct', '--model', ckpt, '--maps', maps, '-o', out, '--batch', '3', a, npy, b, c]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /wrote 7 x 3 anomaly maps into /);
  assert.equal(files(maps), Array.from({ length: 7 }, (_, i) => [`00000${i}.dssim.png`, `00000${i}.hf.png`, `00000${i}.mse.png`]).flat());
  const recon = readNpy(out).data as Float32Array;
  const tensors = readNpy(npy).data as Float32Array;
  for (const [index, path] of [[0, a], [5, b], [6, c]] as const) {
    const { tensor, width, height } = await loadImageSample(path);
    await assertMaps(maps, index, tensor, recon, { width, height });
  }
  for (let s = 0; s < 4; s++) await assertMaps(maps, 1 + s, tensors.subarray(s * PLANE, (s + 1) * PLANE), recon, null);
});

test('detect --maps writes the same maps as reconstruct beside its rows', () => {
  const maps = join(tmp, 'detect');
  mkdirSync(maps);
  const r = rcae(['detect', '--model', ckpt, '--level', '0.1', '--maps', maps, '--batch', '3', a, npy, b, c]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim().split('\n').length, 7);
  assert.match(r.stderr, /wrote 7 x 3 anomaly maps into /);
  assert.equal(files(maps), files(join(tmp, 'mixed')));
  for (const name of files(maps)) assert.ok(readFileSync(join(maps, name)).equals(readFileSync(join(tmp, 'mixed', name))), name);
});

test('detect --maps maps an INVALID sample too: NaN is drawn at the top of the ramp', async () => {
  const nan = join(tmp, 'nan.npy');
  const data = (readNpy(npy).data as Float32Array).slice(0, PLANE);
  data[5] = NaN;
  writeNpy(nan, data, [1, 3, SIZE, SIZE]);
  const maps = join(tmp, 'nan');
  mkdirSync(maps);
  const r = rcae(['detect', '--model', ckpt, '--level', '0.1', '--maps', maps, nan]);
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).label, 'INVALID');
  const { data: pixels } = await sharp(join(maps, '000000.mse.png')).raw().toBuffer({ resolveWithObject: true });
  assert.equal(Array.from(pixels.subarray(5 * 3, 5 * 3 + 3)), [252, 255, 164]);
});

test('a run that fails on a later input leaves no map (and no .npy) behind', () => {
  const broken = join(tmp, 'broken.png');
  writeFileSync(broken, 'not a png');
  for (const command of ['reconstruct', 'detect']) {
    const maps = join(tmp, `failed-${command}`);
    mkdirSync(maps);
    const out = join(tmp, `failed-${command}.out`);
    const r = rcae([command, '--model', ckpt, '--maps', maps, '--batch', '1', ...(command === 'detect' ? ['--level', '0.1', '-o', out] : ['-o', `${out}.npy`]), a, b, broken]);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /broken\.png: cannot decode image/);
    assert.equal(readdirSync(maps), [], `${command} left files in DIR`);
    assert.not.ok(existsSync(out) || existsSync(`${out}.npy`));
  }
});

test.run();
