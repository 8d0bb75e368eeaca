import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toNormalizedChw, type Rgb8Image } from '../../src/image/preprocess.js';
import { manipulate, noiseImage, parseSynthetic, randomStream, SYNTHETIC_DESCRIPTIONS, SYNTHETIC_KINDS, SyntheticError, type Manipulation } from '../../src/detect/synthetic.js';
import { rejectsSynthetic } from './support.js';

const MANIPULATIONS = SYNTHETIC_KINDS.filter((k): k is Manipulation => k !== 'noise');

/** A photo-like test image: smooth colour gradients, a bright disc, and a little texture. */
function testImage(width: number, height: number, seed: number): Rgb8Image {
  const random = randomStream(seed, 1000);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const disc = (x - width / 3) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 4) ** 2 ? 80 : 0;
      const base = [40 + (150 * x) / width, 60 + (120 * y) / height, 200 - (100 * (x + y)) / (width + height)];
      base.forEach((v, c) => (data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v + disc + 20 * (random() - 0.5))))));
    }
  }
  return { width, height, data };
}

const differs = (a: Uint8Array, b: Uint8Array) => a.length !== b.length || a.some((v, i) => v !== b[i]);
const sortedBytes = (a: Uint8Array) => Array.from(a).sort((x, y) => x - y);

test('parseSynthetic: KIND and KIND:N', () => {
  assert.equal(parseSynthetic('jpeg:500'), { kind: 'jpeg', count: 500 });
  assert.equal(parseSynthetic('noise'), { kind: 'noise' });
  assert.equal(parseSynthetic('patch-shuffle:1'), { kind: 'patch-shuffle', count: 1 });
  for (const bad of ['gif', 'jpeg:0', 'jpeg:-3', 'jpeg:1.5', 'jpeg:', 'jpeg:2:3', 'JPEG', 'noise:1e3']) {
    assert.throws(() => parseSynthetic(bad), (err: Error) => err instanceof SyntheticError, bad);
  }
  assert.throws(() => parseSynthetic('gif'), /one of noise, blur, jpeg, patch-shuffle, splice, color-shift, upscale/);
  for (const kind of SYNTHETIC_KINDS) assert.ok(SYNTHETIC_DESCRIPTIONS[kind].length > 20 && !SYNTHETIC_DESCRIPTIONS[kind].includes('\n'), kind);
});

test('random streams: reproducible, and distinct per seed and per index', () => {
  const take = (seed: number, index: number) => Array.from({ length: 8 }, randomStream(seed, index));
  assert.equal(take(3, 7), take(3, 7));
  assert.not.equal(take(3, 7), take(3, 8));
  assert.not.equal(take(3, 7), take(4, 7));
  const r = randomStream(0, 0);
  for (let i = 0; i < 1000; i++) {
    const v = r();
    assert.ok(v >= 0 && v < 1);
  }
});

test('noise: deterministic, uniform bytes, uniform over [-1, 1] after normalisation', () => {
  const a = noiseImage(128, 128, 5, 0);
  assert.equal(a, noiseImage(128, 128, 5, 0));
  assert.ok(differs(a.data, noiseImage(128, 128, 5, 1).data));
  assert.ok(differs(a.data, noiseImage(128, 128, 6, 0).data));
  assert.is(a.data.length, 128 * 128 * 3);
  const n = a.data.length;
  const counts = new Array<number>(256).fill(0);
  let sum = 0;
  for (const v of a.data) {
    counts[v]++;
    sum += v;
  }
  const mean = sum / n;
  let variance = 0;
  for (const v of a.data) variance += (v - mean) ** 2;
  variance /= n;
  // Discrete uniform 0..255: mean 127.5 (standard error 0.33 here), variance (256^2 - 1) / 12 = 5461.25.
  assert.ok(Math.abs(mean - 127.5) < 2, `mean ${mean}`);
  assert.ok(Math.abs(variance / 5461.25 - 1) < 0.03, `variance ${variance}`);
  // Chi-square over the 256 byte values: 255 degrees of freedom, mean 255, sd 22.6.
  const expected = n / 256;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 255 + 6 * 22.6, `chi-square ${chi2}`);
  const t = toNormalizedChw(a.data, 128, 128);
  let tMean = 0;
  let tMin = Infinity;
  let tMax = -Infinity;
  for (const v of t) {
    tMean += v / t.length;
    tMin = Math.min(tMin, v);
    tMax = Math.max(tMax, v);
  }
  let tVar = 0;
  for (const v of t) tVar += (v - tMean) ** 2 / t.length;
  assert.is(tMin, -1);
  assert.is(tMax, 1);
  assert.ok(Math.abs(tMean) < 0.02, `normalised mean ${tMean}`);
  // Uniform on [-1, 1] has variance 1/3 (0.336 for 256 levels).
  assert.ok(Math.abs(tVar - 0.336) < 0.01, `normalised variance ${tVar}`);
});

test('every manipulation is deterministic, keeps the size and changes the image', async () => {
  for (const [w, h] of [[32, 32], [37, 29], [128, 96]]) {
    const image = testImage(w, h, w);
    const donor = testImage(h, w, 99);
    const before = image.data.slice();
    for (const kind of MANIPULATIONS) {
      const a = await manipulate(kind, image, { seed: 1, index: 4, donor });
      const b = await manipulate(kind, image, { seed: 1, index: 4, donor });
      assert.is(a.width, w, `${kind} width`);
      assert.is(a.height, h, `${kind} height`);
      assert.is(a.data.length, w * h * 3, `${kind} bytes`);
      assert.equal(a.data, b.data, `${kind} not deterministic at ${w}x${h}`);
      assert.ok(differs(a.data, image.data), `${kind} left ${w}x${h} unchanged`);
      assert.equal(image.data, before, `${kind} modified its input`);
      // Other seeds or indices give other results for most images.
      const others = await Promise.all([2, 3, 4, 5].map((seed) => manipulate(kind, image, { seed, index: 4, donor })));
      assert.ok(others.some((o) => differs(o.data, a.data)), `${kind} ignores the seed`);
    }
  }
});

test('blur smooths: total variation falls', async () => {
  const image = testImage(40, 40, 3);
  const tv = (d: Uint8Array) => {
    let s = 0;
    for (let i = 3; i < d.length; i++) s += Math.abs(d[i] - d[i - 3]);
    return s;
  };
  const blurred = await manipulate('blur', image, { seed: 0, index: 0 });
  assert.ok(tv(blurred.data) < 0.6 * tv(image.data), `${tv(blurred.data)} vs ${tv(image.data)}`);
});

test('patch-shuffle moves whole patches and leaves the leftover edge alone', async () => {
  const image = testImage(37, 29, 8); // 4x4 patches of 9x7, leaving column 36 and row 28
  const out = await manipulate('patch-shuffle', image, { seed: 0, index: 0 });
  assert.equal(sortedBytes(out.data), sortedBytes(image.data));
  for (let y = 0; y < 29; y++) {
    for (let x = 0; x < 37; x++) {
      if (x < 36 && y < 28) continue;
      for (let c = 0; c < 3; c++) assert.is(out.data[(y * 37 + x) * 3 + c], image.data[(y * 37 + x) * 3 + c], `edge pixel ${x},${y}`);
    }
  }
  // Each patch of the output equals some patch of the input.
  const patch = (img: Rgb8Image, px: number, py: number) => {
    const rows: number[] = [];
    for (let y = 0; y < 7; y++) rows.push(...img.data.subarray(((py * 7 + y) * 37 + px * 9) * 3, ((py * 7 + y) * 37 + px * 9 + 9) * 3));
    return rows.join(',');
  };
  const inputPatches = new Set<string>();
  for (let i = 0; i < 16; i++) inputPatches.add(patch(image, i % 4, Math.floor(i / 4)));
  for (let i = 0; i < 16; i++) assert.ok(inputPatches.has(patch(out, i % 4, Math.floor(i / 4))), `patch ${i}`);
  await rejectsSynthetic(manipulate('patch-shuffle', testImage(3, 8, 0), { seed: 0, index: 0 }), /at least 4x4/);
});

test('splice copies one rectangle of the donor and nothing else', async () => {
  const image = testImage(33, 30, 1);
  const donor = testImage(40, 36, 2);
  const out = await manipulate('splice', image, { seed: 9, index: 2, donor });
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let p = 0; p < 33 * 30; p++) {
    if (out.data[p * 3] === image.data[p * 3] && out.data[p * 3 + 1] === image.data[p * 3 + 1] && out.data[p * 3 + 2] === image.data[p * 3 + 2]) continue;
    const x = p % 33;
    const y = Math.floor(p / 33);
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  assert.ok(x1 >= 0, 'nothing changed');
  const rw = x1 - x0 + 1;
  const rh = y1 - y0 + 1;
  assert.ok(rw <= 33 / 2 + 1 && rh <= 30 / 2 + 1, `region ${rw}x${rh} larger than half the sides`);
  // Find where in the donor the changed box came from.
  const matchesAt = (sx: number, sy: number) => {
    for (let y = 0; y < rh; y++) {
      for (let x = 0; x < rw; x++) {
        for (let c = 0; c < 3; c++) if (out.data[((y0 + y) * 33 + x0 + x) * 3 + c] !== donor.data[((sy + y) * 40 + sx + x) * 3 + c]) return false;
      }
    }
    return true;
  };
  let found = false;
  for (let sy = 0; sy + rh <= 36 && !found; sy++) for (let sx = 0; sx + rw <= 40 && !found; sx++) found = matchesAt(sx, sy);
  assert.ok(found, 'the changed region is not a region of the donor');
  await rejectsSynthetic(manipulate('splice', image, { seed: 0, index: 0 }), /needs a donor/);
});

test('color-shift offsets each channel by 24..48 levels, clamped', async () => {
  const image = testImage(30, 20, 4);
  const out = await manipulate('color-shift', image, { seed: 3, index: 0 });
  for (let c = 0; c < 3; c++) {
    const shifts = new Set<number>();
    for (let p = 0; p < 600; p++) {
      const a = image.data[p * 3 + c];
      const b = out.data[p * 3 + c];
      if (b !== 0 && b !== 255) shifts.add(b - a);
    }
    assert.is(shifts.size, 1, `channel ${c} shifts ${[...shifts]}`);
    const [shift] = shifts;
    assert.ok(Math.abs(shift) >= 24 && Math.abs(shift) <= 48, `channel ${c} shift ${shift}`);
  }
});

test('upscale keeps flat images flat and loses detail', async () => {
  const flat = { width: 17, height: 11, data: new Uint8Array(17 * 11 * 3).fill(77) };
  assert.equal((await manipulate('upscale', flat, { seed: 0, index: 0 })).data, flat.data);
  // A one-pixel checkerboard averages to grey at any factor >= 2 (up to edges).
  const board = { width: 24, height: 24, data: new Uint8Array(24 * 24 * 3) };
  for (let p = 0; p < 576; p++) board.data.fill((p % 24) % 2 === Math.floor(p / 24) % 2 ? 255 : 0, p * 3, p * 3 + 3);
  const out = await manipulate('upscale', board, { seed: 0, index: 0 });
  const spread = Math.max(...out.data) - Math.min(...out.data);
  assert.ok(spread < 128, `checkerboard survived: spread ${spread}`);
});

test('jpeg re-encoding stays close to the image but is lossy', async () => {
  const image = testImage(48, 40, 6);
  const out = await manipulate('jpeg', image, { seed: 0, index: 0 });
  let mse = 0;
  for (let i = 0; i < out.data.length; i++) mse += (out.data[i] - image.data[i]) ** 2 / out.data.length;
  assert.ok(mse > 1 && mse < 2000, `mse ${mse}`);
});

test('malformed images are rejected', async () => {
  const bad = { width: 4, height: 4, data: new Uint8Array(47) };
  for (const kind of MANIPULATIONS) await rejectsSynthetic(manipulate(kind, bad, { seed: 0, index: 0, donor: bad }), /47 bytes for 4x4/);
});

test.run();
