// The CLI's samples: what input-reader.ts reads from the INPUT arguments, as a stream of batches,
// so large sets stay in bounded memory. Image files and archive members decode alike: within the
// per-image limits, and within one DecodeBudget for all the bytes (encoded and decoded) that decoding
// holds at once; a member is counted before the archive reader reads it.

import { DecodeBudget, type ImageSample } from '../image/preprocess.js';
import { archiveImages, npyRows, openStdin, readImage, type SampleShape, type Source } from './input-reader.js';

/** The width and height of an image before it was resized to the model's input. */
export interface ImageSize {
  width: number;
  height: number;
}

export interface SampleBatch {
  /** For each sample: the file (or `archive#member`) it came from. */
  inputs: string[];
  /** For each sample: its image's size before the resize; null for a sample of a .npy tensor, which has none. */
  sizes: (ImageSize | null)[];
  /** Samples concatenated, NCHW float32 normalised to [-1, 1]. */
  data: Float32Array;
}

/** Whether the i-th input (from 0) is in the subset `every` k-th from the `start`-th. */
export const inSubset = (i: number, every: number, start = 0): boolean => i >= start && (i - start) % every === 0;

/**
 * Yields batches of at most `batchSize` samples, in input order; with `every` > 1 only every k-th
 * sample, counted from the `start`-th (so that subsets with different starts are disjoint). Decoding
 * holds at most `budget`'s bytes at once (or one image's, when that alone is more).
 */
export async function* sampleBatches(
  sources: readonly Source[],
  shape: SampleShape,
  batchSize: number,
  every = 1,
  start = 0,
  budget = new DecodeBudget(),
): AsyncGenerator<SampleBatch> {
  let seen = 0;
  // Subsampling decides before decoding, so skipped images cost nothing.
  const keep = () => inSubset(seen++, every, start);
  const per = shape.channels * shape.size * shape.size;
  let inputs: string[] = [];
  let sizes: (ImageSize | null)[] = [];
  let parts: Float32Array[] = [];
  const flush = (): SampleBatch => {
    const data = new Float32Array(inputs.length * per);
    parts.forEach((p, i) => data.set(p, i * per));
    const batch = { inputs, sizes, data };
    inputs = [];
    sizes = [];
    parts = [];
    return batch;
  };
  // Images decode concurrently (sharp works off the main thread); pending holds their promises in order.
  let pending: { input: string; sample: Promise<ImageSample> }[] = [];
  const decode = (input: string, sample: Promise<ImageSample>) => {
    // Awaited in order later; the no-op handler keeps an early failure from being "unhandled" meanwhile.
    sample.catch(() => {});
    pending.push({ input, sample });
  };
  const drainPending = async function* () {
    for (const p of pending) {
      const { tensor, width, height } = await p.sample;
      inputs.push(p.input);
      sizes.push({ width, height });
      parts.push(tensor);
      if (inputs.length === batchSize) yield flush();
    }
    pending = [];
  };
  // Each kind of source is read in a generator of its own that ends with it: V8 keeps every register
  // of a suspended generator, dead ones included, so a buffer read in this one would live until the
  // run ends (a 201 MB archive member was still held while the next one was read).
  const fromTensors = async function* (source: Source) {
    yield* drainPending();
    let rows: AsyncGenerator<Float32Array>;
    if (source.kind === 'stdin') {
      const stdin = await openStdin();
      if (stdin.kind === 'image') {
        if (keep()) decode(source.path, readImage(stdin.bytes, shape, 'standard input'));
        return;
      }
      rows = stdin.rows(shape, keep);
    } else rows = npyRows(source.path, shape, keep);
    // A row at a time: a batch's rows are all of the tensor held in memory.
    for await (const row of rows) {
      inputs.push(source.path);
      sizes.push(null);
      parts.push(row);
      if (inputs.length === batchSize) yield flush();
    }
  };
  const fromArchive = async function* (path: string) {
    // Members left out by `every` are skipped unread.
    for await (const member of archiveImages(path, shape, keep, budget)) {
      decode(member.input, member.read());
      if (pending.length >= batchSize) yield* drainPending();
    }
  };
  for (const source of sources) {
    if (source.kind === 'npy' || source.kind === 'stdin') yield* fromTensors(source);
    else if (source.kind === 'image') {
      if (!keep()) continue;
      decode(source.path, readImage(source.path, shape, undefined, await budget.open()));
      if (pending.length >= batchSize) yield* drainPending();
    } else yield* fromArchive(source.path);
  }
  yield* drainPending();
  if (inputs.length > 0) yield flush();
}
