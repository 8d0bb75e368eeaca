// Synthetic fakes as model input: noise images, or manipulations of the first N images of a real
// source, preprocessed exactly like real inputs (PIL-exact bilinear resize, then normalisation) and
// delivered in batches shaped like the CLI input layer's.

import { gatherSources, type SampleShape } from '../node/input-reader.js';
import { inSubset, type ImageSize, type SampleBatch } from '../node/input-batches.js';
import { decodeRgb8, isImagePath, resizeBilinearPil, toNormalizedChw, type Rgb8Image } from '../image/preprocess.js';
import { readTarEntries } from '../io/tar.js';
import { manipulate, noiseImage, SyntheticError, type Manipulation, type SyntheticKind } from './synthetic.js';

interface DecodedImage {
  input: string;
  image: Rgb8Image;
}

/** The images of the INPUT arguments (files, directories, archives), decoded to RGB8 in input order; every k-th from the start-th when every > 1. */
export async function* decodedImages(args: readonly string[], every = 1, start = 0): AsyncGenerator<DecodedImage> {
  let seen = 0;
  for (const source of gatherSources(args)) {
    if (source.kind === 'npy') throw new SyntheticError(`${source.path}: synthetic fakes are made from images, not .npy tensors`);
    if (source.kind === 'image') {
      if (!inSubset(seen++, every, start)) continue;
      yield { input: source.path, image: await decodeRgb8(source.path) };
      continue;
    }
    for await (const entry of readTarEntries(source.path, isImagePath)) {
      if (!inSubset(seen++, every, start)) continue;
      const input = `${source.path}#${entry.name}`;
      yield { input, image: await decodeRgb8(entry.data, input) };
    }
  }
}

/**
 * The first `count` images of `args`, manipulated. splice takes its donor from the next image, the
 * last from the first, so each image is held until its successor has been read.
 */
async function* manipulatedImages(kind: Manipulation, args: readonly string[], count: number, seed: number, every: number, start: number): AsyncGenerator<DecodedImage> {
  let first: DecodedImage | undefined;
  let held: DecodedImage | undefined;
  let index = 0;
  const make = async (item: DecodedImage, donor: DecodedImage): Promise<DecodedImage> => ({
    input: `${kind}(${item.input})`,
    image: await manipulate(kind, item.image, { seed, index: index++, donor: donor.image }),
  });
  let read = 0;
  for await (const item of decodedImages(args, every, start)) {
    first ??= item;
    if (held) yield await make(held, item);
    held = item;
    if (++read === count) break;
  }
  if (read < count) throw new SyntheticError(`${args.join(' ')}: holds ${read} images, fewer than the ${count} asked for`);
  if (held && first) yield await make(held, first);
}

function* noiseImages(count: number, size: number, seed: number): Generator<DecodedImage> {
  for (let i = 0; i < count; i++) yield { input: `noise#${i}`, image: noiseImage(size, size, seed, i) };
}

export interface SyntheticRequest {
  kind: SyntheticKind;
  count: number;
  seed: number;
  /** Real inputs the manipulations start from (unused by noise). */
  realArgs: readonly string[];
  /** Use every k-th real image from the start-th (as the real set was subsampled); default 1 and 0. */
  every?: number;
  start?: number;
}

/** Batches of at most `batchSize` preprocessed synthetic samples. */
export async function* syntheticBatches(request: SyntheticRequest, shape: SampleShape, batchSize: number): AsyncGenerator<SampleBatch> {
  if (shape.channels !== 3) throw new SyntheticError(`synthetic images are RGB; the model takes ${shape.channels} channels`);
  const { kind, count, seed, realArgs } = request;
  const images = kind === 'noise' ? noiseImages(count, shape.size, seed) : manipulatedImages(kind, realArgs, count, seed, request.every ?? 1, request.start ?? 0);
  const per = 3 * shape.size * shape.size;
  let inputs: string[] = [];
  let sizes: ImageSize[] = [];
  let data = new Float32Array(Math.min(batchSize, count) * per);
  for await (const { input, image } of images) {
    const resized = resizeBilinearPil(image.data, image.width, image.height, shape.size, shape.size);
    data.set(toNormalizedChw(resized, shape.size, shape.size), inputs.length * per);
    inputs.push(input);
    sizes.push({ width: image.width, height: image.height });
    if (inputs.length === batchSize) {
      yield { inputs, sizes, data };
      inputs = [];
      sizes = [];
      data = new Float32Array(batchSize * per);
    }
  }
  if (inputs.length > 0) yield { inputs, sizes, data: data.slice(0, inputs.length * per) };
}
