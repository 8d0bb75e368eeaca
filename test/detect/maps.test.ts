import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorMaps, mapAtSize } from '../../src/image/anomaly-maps.js';
import { mseReference } from '../../src/kernels/mse/reference.js';
import { hfReference, ssimMap, ssimReference } from '../../src/kernels/stats/reference.js';
import { mulberry32 } from '../../src/graph/random-params.js';

test('each map averages to its sample\'s score (mse over every pixel, hf and dssim over the pixels their windows fit), for odd sizes and several samples', () => {
  for (const [n, channels, size] of [[1, 1, 11], [3, 3, 17], [2, 2, 32]]) {
    const rand = mulberry32(n * 100 + size);
    const images = Float32Array.from({ length: n * channels * size * size }, () => rand() * 2 - 1);
    const recon = images.map((v) => v + (rand() - 0.5) * 0.2);
    const plane = size * size;
    const shape = { channels, height: size, width: size };
    const expected = { mse: mseReference(images, recon, n, channels * plane), hf: hfReference(images, recon, n, shape), dssim: ssimReference(images, recon, n, shape).map((v) => 1 - v) };
    for (const score of ['mse', 'hf', 'dssim'] as const) {
      const maps = errorMaps(score, images, recon, n, channels, size);
      assert.is(maps.length, n * plane);
      for (let s = 0; s < n; s++) {
        // hf leaves a 1-pixel border out and ssim a 5-pixel one: their maps are 0 there and the
        // score is the mean over the rest.
        const border = { mse: 0, hf: 1, dssim: 5 }[score];
        const counted = (size - 2 * border) ** 2;
        const map = maps.subarray(s * plane, (s + 1) * plane);
        for (let i = 0; i < size; i++) {
          for (let j = 0; j < border; j++) assert.equal([map[j * size + i], map[plane - 1 - j * size - i], map[i * size + j], map[i * size + size - 1 - j]], [0, 0, 0, 0]);
        }
        const mean = map.reduce((a, b) => a + b, 0) / counted;
        assert.ok(Math.abs(mean - expected[score][s]) <= 1e-5 * expected[score][s], `${score} ${n}x${channels}x${size}: sample ${s} map mean ${mean} vs ${expected[score][s]}`);
      }
    }
  }
});

test('the dssim map is 1 - SSIM of the window centred on each pixel, mean over channels (the direct 11x11 sum)', () => {
  const [channels, size] = [3, 19];
  const rand = mulberry32(7);
  const images = Float32Array.from({ length: channels * size * size }, () => rand() * 2 - 1);
  const recon = images.map((v) => v * 0.8 + (rand() - 0.5) * 0.3);
  const map = errorMaps('dssim', images, recon, 1, channels, size);
  const direct = ssimMap(images, recon, 0, { channels, height: size, width: size });
  const valid = size - 10;
  for (let y = 0; y < valid; y++) {
    for (let x = 0; x < valid; x++) {
      let expected = 0;
      for (let c = 0; c < channels; c++) expected += (1 - direct[(c * valid + y) * valid + x]) / channels;
      const got = map[(y + 5) * size + x + 5];
      assert.ok(Math.abs(got - expected) <= 1e-6, `(${y + 5}, ${x + 5}): ${got} vs ${expected}`);
    }
  }
});

test('the error sits where the images differ', () => {
  const size = 9;
  const images = new Float32Array(size * size);
  const recon = images.slice();
  recon[4 * size + 4] = 0.5;
  const mse = errorMaps('mse', images, recon, 1, 1, size);
  assert.is(mse[4 * size + 4], 0.25);
  assert.is(mse.filter((v) => v > 0).length, 1);
  const hf = errorMaps('hf', images, recon, 1, 1, size);
  // The Laplacian of a spike reaches its four neighbours.
  assert.is(hf.filter((v) => v > 0).length, 5);
  assert.throws(() => errorMaps('mse', images, recon, 2, 1, size), /do not hold 2 x 1 x 9 x 9/);
});

/**
 * Float64 reference of mapAtSize, written without its separable passes or windows: each output
 * pixel is the average of every map pixel weighted by the product of the two axes' triangle
 * filters, centred on the output pixel's centre in map coordinates and stretched by the shrink factor.
 */
function mapAtSizeReference(map: Float32Array, size: number, width: number, height: number): Float64Array {
  const axis = (outSize: number, o: number, i: number) => {
    const scale = size / outSize;
    const stretch = Math.max(scale, 1);
    return Math.max(0, 1 - Math.abs((i + 0.5 - (o + 0.5) * scale) / stretch));
  };
  const out = new Float64Array(width * height);
  for (let oy = 0; oy < height; oy++) {
    for (let ox = 0; ox < width; ox++) {
      let acc = 0;
      let sum = 0;
      for (let y = 0; y < size; y++) {
        const wy = axis(height, oy, y);
        if (wy === 0) continue;
        for (let x = 0; x < size; x++) {
          const w = wy * axis(width, ox, x);
          acc += w * map[y * size + x];
          sum += w;
        }
      }
      out[oy * width + ox] = acc / sum;
    }
  }
  return out;
}

test('mapAtSize equals its float64 reference: odd and non-square sizes, 1x1 either way, large ratios', () => {
  const cases = [
    [128, 40, 24], [128, 3, 300], [128, 1, 1], [1, 1, 1], [1, 9, 4], [5, 7, 3], [17, 17, 17], [16, 1000, 3], [2, 1500, 2000], [250, 2, 3], [31, 64, 1],
  ];
  for (const [size, width, height] of cases) {
    const rand = mulberry32(size * 7919 + width * 31 + height);
    // Squared errors: non-negative, with a few bright spots as real maps have.
    const map = Float32Array.from({ length: size * size }, () => (rand() < 0.02 ? 1 : 0.01 * rand()));
    const got = mapAtSize(map, size, width, height);
    const expected = mapAtSizeReference(map, size, width, height);
    assert.is(got.length, width * height, `${size} -> ${width}x${height}`);
    const top = expected.reduce((m, v) => Math.max(m, v), 0);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
    assert.ok(worst <= 1e-6 * top, `${size} -> ${width}x${height}: off by ${worst} (largest value ${top})`);
    // Non-negative weights summing to 1: no value leaves the map's range, so the colour scale still fits.
    const [lo, hi] = [Math.min(...map), Math.max(...map)];
    assert.ok(got.every((v) => v >= lo - 1e-7 && v <= hi + 1e-7), `${size} -> ${width}x${height}: a value outside [${lo}, ${hi}]`);
  }
});

test('mapAtSize: the same size gives the map back, a constant stays constant, enlarging keeps the mean', () => {
  const rand = mulberry32(3);
  const map = Float32Array.from({ length: 33 * 33 }, () => rand());
  assert.equal(Array.from(mapAtSize(map, 33, 33, 33)), Array.from(map));
  assert.ok(mapAtSize(new Float32Array(33 * 33).fill(0.3), 33, 1001, 7).every((v) => Math.abs(v - 0.3) < 1e-7));
  // A 128 map of a photo 4x its size: the mean moves by edge effects only.
  const smooth = Float32Array.from({ length: 128 * 128 }, (_, i) => 1 + Math.sin(i / 300));
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(mapAtSize(smooth, 128, 512, 512)) - mean(smooth)) < 1e-3 * mean(smooth));
});

test('mapAtSize refuses sizes no decoded image can have, and a map of the wrong length', () => {
  const map = new Float32Array(16);
  assert.throws(() => mapAtSize(map, 4, 0, 3), /maps: width must be an integer from 1 to 16384, got 0/);
  assert.throws(() => mapAtSize(map, 4, 3, 2.5), /maps: height must be an integer from 1 to 16384, got 2\.5/);
  assert.throws(() => mapAtSize(map, 4, 16385, 1), /width must be an integer from 1 to 16384/);
  assert.throws(() => mapAtSize(map, 4, 16384, 16384), /16384x16384 is larger than the limit of 67108864 pixels/);
  assert.throws(() => mapAtSize(map, 5, 3, 3), /16 values is not a 5 x 5 map/);
});

test.run();
