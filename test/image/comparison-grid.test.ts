import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { heatMap } from '../../src/image/anomaly-maps.js';
import { comparisonGrid } from '../../src/image/comparison-grid.js';

test('grid places input, reconstruction and error map for each sample, on a white background', () => {
  const size = 4;
  const per = 3 * size * size;
  const originals = new Float32Array(2 * per).fill(1); // white
  const recon = new Float32Array(2 * per).fill(-1); // black
  recon.fill(1, per); // second sample reconstructed perfectly
  const g = comparisonGrid(originals, recon, 2, 3, size);
  assert.is(g.width, 2 * size + 3 * 4);
  assert.is(g.height, 3 * size + 4 * 4);
  const px = (x: number, y: number) => Array.from(g.data.subarray((y * g.width + x) * 3, (y * g.width + x) * 3 + 3));
  assert.equal(px(0, 0), [255, 255, 255]); // gap
  assert.equal(px(4, 4), [255, 255, 255]); // input 0 (white)
  assert.equal(px(4, 4 + size + 4), [0, 0, 0]); // reconstruction 0 (black)
  assert.equal(px(4, 4 + 2 * (size + 4)), [252, 255, 164]); // largest error: top of the ramp
  assert.equal(px(4 + size + 4, 4 + 2 * (size + 4)), [0, 0, 4]); // no error: bottom of the ramp
  assert.is(g.errorScale, 4);
});

test('grid handles many large samples (no argument-spreading limits)', () => {
  const count = 12;
  const plane = 128 * 128;
  const originals = new Float32Array(count * 3 * plane);
  // The largest error sits in the last sample only: the scale must find it.
  for (let c = 0; c < 3; c++) originals[(count - 1) * 3 * plane + c * plane + 5] = 1;
  const g = comparisonGrid(originals, new Float32Array(count * 3 * plane), count, 3, 128);
  assert.is(g.errorScale, 1);
});

test('heat map: colour by sqrt(value / scale), clamped at the top, NaN at the top; any width x height', () => {
  const scale = 0.25;
  // sqrt(v / scale) = 0, 0.5 (the ramp's middle stop), 1, above 1, infinite, NaN.
  const map = Float32Array.from([0, scale / 4, scale, 4 * scale, Infinity, NaN]);
  const h = heatMap(map, 3, 2, scale);
  assert.equal([h.width, h.height], [3, 2]);
  const px = (p: number) => Array.from(h.data.subarray(p * 3, p * 3 + 3));
  assert.equal([0, 1, 2, 3, 4, 5].map(px), [[0, 0, 4], [188, 55, 84], [252, 255, 164], [252, 255, 164], [252, 255, 164], [252, 255, 164]]);
  assert.throws(() => heatMap(map, 2, 2, scale), /heat map: 6 values is not 2 x 2/);
  // The web page's canvas takes RGBA: the same colours, opaque.
  const rgba = heatMap(map, 3, 2, scale, 4);
  assert.equal([0, 1, 2, 3, 4, 5].map((p) => Array.from(rgba.data.subarray(p * 4, p * 4 + 4))), [0, 1, 2, 3, 4, 5].map((p) => [...px(p), 255]));
});

test.run();
