import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodedImages, syntheticBatches, type SyntheticRequest } from '../../src/detect/synthetic-source.js';
import { manipulate, noiseImage, randomStream, type Manipulation } from '../../src/detect/synthetic.js';
import { decodeRgb8, loadImageTensor, resizeBilinearPil, toNormalizedChw, type Rgb8Image } from '../../src/image/preprocess.js';
import type { SampleBatch } from '../../src/node/input-batches.js';
import { datasetMissing, datasetPath } from '../io/fixtures.js';
import { requires } from '../helpers/skip.js';
import { tempDir } from '../helpers/paths.js';
import { rejectsSynthetic } from './support.js';

const SIZE = 16;
const shape = { channels: 3, size: SIZE };

function randomImage(width: number, height: number, seed: number): Rgb8Image {
  const random = randomStream(seed, 0);
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256)) };
}

async function writePng(path: string, image: Rgb8Image): Promise<void> {
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toFile(path);
}

async function collect(request: SyntheticRequest, batch: number): Promise<SampleBatch[]> {
  const out: SampleBatch[] = [];
  for await (const b of syntheticBatches(request, shape, batch)) out.push(b);
  return out;
}

const preprocess = (image: Rgb8Image) => toNormalizedChw(resizeBilinearPil(image.data, image.width, image.height, SIZE, SIZE), SIZE, SIZE);

async function withImages(run: (dir: string, paths: string[]) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    const sizes = [[20, 24], [32, 32], [40, 30]];
    const paths = sizes.map((_, i) => join(dir, `${'abc'[i]}.png`));
    await Promise.all(sizes.map(([w, h], i) => writePng(paths[i], randomImage(w, h, i))));
    await run(dir, paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('decoded images preprocess exactly like the real inputs', async () => {
  await withImages(async (dir, paths) => {
    let i = 0;
    for await (const { input, image } of decodedImages([dir])) {
      assert.is(input, paths[i++]);
      assert.equal(preprocess(image), await loadImageTensor(input, SIZE));
    }
    assert.is(i, 3);
  });
});

test('manipulated batches: sizes, order, and the same pixels as manipulating by hand', async () => {
  await withImages(async (dir, paths) => {
    const originals = await Promise.all(paths.map((p) => decodeRgb8(p)));
    for (const kind of ['jpeg', 'splice', 'patch-shuffle'] as Manipulation[]) {
      const batches = await collect({ kind, count: 3, seed: 7, realArgs: [dir] }, 2);
      assert.equal(batches.map((b) => b.inputs.length), [2, 1], kind);
      assert.equal(batches.flatMap((b) => b.inputs), paths.map((p) => `${kind}(${p})`));
      const per = 3 * SIZE * SIZE;
      for (let i = 0; i < 3; i++) {
        const b = batches[Math.floor(i / 2)];
        assert.is(b.data.length, b.inputs.length * per);
        // splice's donor is the next image; the last one takes the first.
        const expected = await manipulate(kind, originals[i], { seed: 7, index: i, donor: originals[(i + 1) % 3] });
        assert.equal(b.data.subarray((i % 2) * per, (i % 2 + 1) * per), preprocess(expected), `${kind} image ${i}`);
      }
      assert.equal(await collect({ kind, count: 3, seed: 7, realArgs: [dir] }, 3).then((bs) => bs[0].data), Float32Array.from([...batches[0].data, ...batches[1].data]), `${kind} depends on batching`);
    }
    const firstTwo = await collect({ kind: 'blur', count: 2, seed: 0, realArgs: [dir] }, 8);
    assert.equal(firstTwo[0].inputs, paths.slice(0, 2).map((p) => `blur(${p})`));
  });
});

test('noise batches are the seeded noise images, normalised', async () => {
  const batches = await collect({ kind: 'noise', count: 5, seed: 3, realArgs: [] }, 2);
  assert.equal(batches.map((b) => b.inputs), [['noise#0', 'noise#1'], ['noise#2', 'noise#3'], ['noise#4']]);
  const per = 3 * SIZE * SIZE;
  for (let i = 0; i < 5; i++) {
    const got = batches[Math.floor(i / 2)].data.subarray((i % 2) * per, (i % 2 + 1) * per);
    assert.equal(got, toNormalizedChw(noiseImage(SIZE, SIZE, 3, i).data, SIZE, SIZE), `noise ${i}`);
  }
});

test('asking for more fakes than real images, or fakes from tensors, fails clearly', async () => {
  await withImages(async (dir) => {
    await rejectsSynthetic(collect({ kind: 'jpeg', count: 5, seed: 0, realArgs: [dir] }, 2), /holds 3 images, fewer than the 5 asked for/);
    const npy = join(dir, 'x.npy');
    writeFileSync(npy, 'not really');
    await rejectsSynthetic(collect({ kind: 'blur', count: 1, seed: 0, realArgs: [npy] }, 2), /x\.npy: synthetic fakes are made from images, not \.npy tensors/);
  });
  await rejectsSynthetic(syntheticBatches({ kind: 'noise', count: 1, seed: 0, realArgs: [] }, { channels: 1, size: 8 }, 1).next(), /synthetic images are RGB/);
});

requires(test, datasetMissing('cifar10-test.tar.gz'), { ci: true })('fakes from the CIFAR-10 test archive', async () => {
  const archive = datasetPath('cifar10-test.tar.gz');
  const [batch] = await collect({ kind: 'upscale', count: 4, seed: 0, realArgs: [archive] }, 4);
  assert.is(batch.inputs.length, 4);
  const per = 3 * SIZE * SIZE;
  for (let i = 0; i < 4; i++) {
    const member = batch.inputs[i].slice('upscale('.length, -1);
    assert.ok(member.startsWith(`${archive}#test/`), member);
    const fake = batch.data.subarray(i * per, (i + 1) * per);
    assert.ok(fake.every((v) => v >= -1 && v <= 1));
    assert.not.equal(fake, await loadImageTensor(await decodedEntry(archive, member), SIZE));
  }
});

/** The bytes of `archive#name` as the tar reader gives them. */
async function decodedEntry(archive: string, input: string): Promise<Buffer> {
  const { readTarEntries } = await import('../../src/io/tar.js');
  const name = input.slice(archive.length + 1);
  for await (const entry of readTarEntries(archive, (n) => n === name)) return entry.data;
  throw new Error(`${input} not found`);
}

test.run();
