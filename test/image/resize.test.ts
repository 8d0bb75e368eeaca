import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resizeBilinearPil, ResizeError } from '../../src/image/resize.js';
import { readNpy } from '../../src/io/npy.js';
import { fixturePath, readJson } from '../io/fixtures.js';
import { SEED, random } from '../helpers/random.js';

const test = suite('resize');
const dir = fixturePath('images');

/**
 * Float64 reference of the same resampling: every source pixel whose stretched triangle weight is
 * non-zero, weights normalised in float64, rounding to uint8 after each pass (horizontal first).
 */
function pass(len: number, outLen: number, lines: number, get: (line: number, i: number) => number): Float64Array {
  const scale = len / outLen;
  const fs = Math.max(scale, 1);
  const out = new Float64Array(lines * outLen);
  for (let line = 0; line < lines; line++) {
    for (let o = 0; o < outLen; o++) {
      const center = (o + 0.5) * scale;
      let acc = 0;
      let sum = 0;
      for (let i = 0; i < len; i++) {
        const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / fs));
        acc += w * get(line, i);
        sum += w;
      }
      out[line * outLen + o] = Math.min(255, Math.max(0, Math.round(acc / sum)));
    }
  }
  return out;
}

function referenceResize(rgb: Uint8Array, w: number, h: number, ow: number, oh: number): Float64Array {
  // Planes as [channel][y][x] so each pass reads lines.
  let cur: Float64Array = new Float64Array(3 * h * w);
  for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) cur[c * w * h + p] = rgb[p * 3 + c];
  let cw = w;
  if (ow !== w) {
    const src = cur;
    cur = pass(w, ow, 3 * h, (line, i) => src[line * w + i]);
    cw = ow;
  }
  if (oh !== h) {
    const src = cur;
    // Lines are (channel, x) columns.
    const cols = pass(h, oh, 3 * cw, (line, i) => src[Math.floor(line / cw) * h * cw + i * cw + (line % cw)]);
    cur = new Float64Array(3 * oh * cw);
    for (let line = 0; line < 3 * cw; line++) {
      for (let y = 0; y < oh; y++) cur[Math.floor(line / cw) * oh * cw + y * cw + (line % cw)] = cols[line * oh + y];
    }
  }
  const out = new Float64Array(ow * oh * 3);
  for (let p = 0; p < ow * oh; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = cur[c * ow * oh + p];
  return out;
}

const rand = random(SEED);
const randInt = rand.int;

test('matches PIL bit for bit on up-, down- and one-axis resizes', () => {
  const cases = readJson<{ width: number; height: number; outWidth: number; outHeight: number; inputOffset: number; outputOffset: number }[]>(
    join(dir, 'resize-cases.json'),
  );
  const inputs = readNpy(join(dir, 'resize-inputs.npy')).data;
  const outputs = readNpy(join(dir, 'resize-outputs.npy')).data;
  for (const c of cases) {
    const src = Uint8Array.from(inputs.subarray(c.inputOffset, c.inputOffset + c.width * c.height * 3));
    const got = resizeBilinearPil(src, c.width, c.height, c.outWidth, c.outHeight);
    const want = outputs.subarray(c.outputOffset, c.outputOffset + c.outWidth * c.outHeight * 3);
    assert.is(got.length, want.length);
    const bad = got.findIndex((v, i) => v !== want[i]);
    assert.is(bad, -1, `${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}: first difference at byte ${bad}`);
  }
});

// Each pass alone stays within 1 of float64 (22-bit fixed-point weights, one rounding). When both
// axes change, the vertical pass averages intermediates that may already be 1 off and then rounds
// again, so 2 is the bound PIL itself meets against this reference.
test('stays within 1 per resampled axis of a float64 reference on random shapes', () => {
  for (let t = 0; t < 40; t++) {
    const [w, h] = [randInt(1, 70), randInt(1, 70)];
    const [ow, oh] = t % 5 === 0 ? [w, randInt(1, 90)] : t % 5 === 1 ? [randInt(1, 90), h] : [randInt(1, 90), randInt(1, 90)];
    const src = Uint8Array.from({ length: w * h * 3 }, () => randInt(0, 255));
    const got = resizeBilinearPil(src, w, h, ow, oh);
    const ref = referenceResize(src, w, h, ow, oh);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
    const bound = Number(ow !== w) + Number(oh !== h);
    assert.ok(worst <= bound, `${w}x${h} -> ${ow}x${oh}: max difference ${worst} > ${bound} (RCAE_TEST_SEED=${SEED})`);
  }
});

test('keeps a constant image constant and returns a copy for the same size', () => {
  for (let t = 0; t < 10; t++) {
    const [w, h, ow, oh] = [randInt(1, 300), randInt(1, 40), randInt(1, 150), randInt(1, 150)];
    const value = [0, 1, 127, 254, 255][t % 5];
    const out = resizeBilinearPil(new Uint8Array(w * h * 3).fill(value), w, h, ow, oh);
    assert.ok(out.every((v) => v === value), `${value} through ${w}x${h} -> ${ow}x${oh} (RCAE_TEST_SEED=${SEED})`);
  }
  const src = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => i);
  const same = resizeBilinearPil(src, 5, 4, 5, 4);
  assert.equal(Array.from(same), Array.from(src));
  assert.is.not(same, src);
});

test('rejects sizes that do not describe the buffer', () => {
  assert.throws(() => resizeBilinearPil(new Uint8Array(12), 2, 2, 0, 4), (e: Error) => e instanceof ResizeError && /output width/.test(e.message));
  assert.throws(() => resizeBilinearPil(new Uint8Array(11), 2, 2, 4, 4), (e: Error) => e instanceof ResizeError && /11 bytes is not 2x2 RGB/.test(e.message));
  assert.throws(() => resizeBilinearPil(new Uint8Array(12), 2.5, 2, 4, 4), (e: Error) => e instanceof ResizeError && /width must be a positive integer/.test(e.message));
});

test.run();
