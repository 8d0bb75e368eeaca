import { rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { measureErrorSets } from '../../src/detect/error-sets.js';
import { noiseImage, randomStream } from '../../src/detect/synthetic.js';
import { loadImageTensor, toNormalizedChw } from '../../src/image/preprocess.js';
import type { Model } from '../../src/model.js';
import { tempDir } from '../helpers/paths.js';

const SIZE = 8;
const PER = 3 * SIZE * SIZE;

/** The mean square of each sample stands in for the model's error, so expected values are computable here. */
function meanSquare(sample: Float32Array): number {
  let s = 0;
  for (const v of sample) s += v * v;
  return s / sample.length;
}

const stubModel = {
  arch: { inChannels: 3, imageSize: SIZE },
  async reconstructionError(images: Float32Array) {
    const n = images.length / PER;
    return Float32Array.from({ length: n }, (_, i) => meanSquare(images.subarray(i * PER, (i + 1) * PER)));
  },
} as unknown as Model;

async function withImages(count: number, run: (dir: string, paths: string[]) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    const paths = Array.from({ length: count }, (_, i) => join(dir, `img${i}.png`));
    await Promise.all(paths.map((p, i) => {
      const random = randomStream(i, 0);
      const data = Uint8Array.from({ length: 12 * 10 * 3 }, () => Math.floor(random() * 256));
      return sharp(data, { raw: { width: 12, height: 10, channels: 3 } }).png().toFile(p);
    }));
    await run(dir, paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f32 = (v: number) => Math.fround(v);

test('real and fake sources are scored in input order', async () => {
  await withImages(5, async (dir, paths) => {
    const sets = await measureErrorSets(stubModel, { real: dir, fake: paths[2], seed: 0, batch: 2 });
    const expected = await Promise.all(paths.map(async (p) => f32(meanSquare(await loadImageTensor(p, SIZE)))));
    assert.equal([...sets.real.mse], expected);
    assert.equal([...sets.fake!.mse], [expected[2]]);
    assert.is(sets.realSource, `${dir} (5 images)`);
    assert.is(sets.fakeSource, `${paths[2]} (1 image)`);
  });
});

test('synthetic noise: as many as the real set unless a count is given', async () => {
  await withImages(3, async (dir) => {
    const sets = await measureErrorSets(stubModel, { real: dir, synthetic: { kind: 'noise' }, seed: 4, batch: 2 });
    const expected = [0, 1, 2].map((i) => f32(meanSquare(toNormalizedChw(noiseImage(SIZE, SIZE, 4, i).data, SIZE, SIZE))));
    assert.equal([...sets.fake!.mse], expected);
    assert.match(sets.fakeSource!, /^synthetic noise \(.*\), 3 images of 8x8, seed 4$/);
    const five = await measureErrorSets(stubModel, { real: dir, synthetic: { kind: 'noise', count: 5 }, seed: 4, batch: 2 });
    assert.is(five.fake!.mse.length, 5);
    assert.equal([...five.fake!.mse.subarray(0, 3)], expected);
  });
});

test('synthetic manipulations start from the first N real images; no fakes when none asked', async () => {
  await withImages(4, async (dir) => {
    const sets = await measureErrorSets(stubModel, { real: dir, synthetic: { kind: 'color-shift', count: 2 }, seed: 1, batch: 8 });
    assert.is(sets.real.mse.length, 4);
    assert.is(sets.fake!.mse.length, 2);
    assert.not.equal([...sets.fake!.mse], [...sets.real.mse.subarray(0, 2)]);
    assert.match(sets.fakeSource!, new RegExp(`applied to the first 2 images of ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, seed 1$`));
    const realOnly = await measureErrorSets(stubModel, { real: dir, seed: 0, batch: 3 });
    assert.is(realOnly.fake, undefined);
    assert.is(realOnly.fakeSource, undefined);
  });
});

test.run();
