// Expands the INPUT arguments (image files, directories, .npy tensors, .tar/.tar.gz archives of
// images, `-` for one image or .npy on standard input) into a stream of preprocessed samples, a
// batch at a time, so large sets stay in bounded memory. Image files and archive members decode
// alike: within the per-image limits, and within one DecodeBudget for all the bytes (encoded and
// decoded) that decoding holds at once; a member is counted before the archive reader reads it.

import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { DecodeBudget, IMAGE_LIMITS, isImagePath, listImageFiles, loadImageSample, type Holding, type ImageSample } from '../image/preprocess.js';
import { readNpy, type NpyArray } from '../io/npy.js';
import { readTarEntries, type TarEntry } from '../io/tar.js';
import { npyFileRows, npyStreamRows } from './npy-rows.js';
import { InputError, npySampleCount, type SampleShape } from './sample-shape.js';
import { openStdin, STDIN_INPUT } from './stdin.js';

export { InputError, type SampleShape };

export type Source =
  | { kind: 'image'; path: string }
  | { kind: 'npy'; path: string }
  | { kind: 'archive'; path: string }
  /** `-`: one image or one .npy on standard input (told apart by content; the .npy read a row at a time). */
  | { kind: 'stdin'; path: typeof STDIN_INPUT };

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

const isArchive = (p: string) => /\.(tar|tar\.gz|tgz)$/i.test(p);

function classify(arg: string, stdin: boolean): Source[] {
  if (arg === STDIN_INPUT) {
    if (!stdin) throw new InputError('-: standard input is read only by score, detect, reconstruct and embed');
    return [{ kind: 'stdin', path: STDIN_INPUT }];
  }
  let st;
  try {
    st = statSync(arg);
  } catch {
    throw new InputError(`${arg}: no such file or directory`);
  }
  if (st.isDirectory()) return listImageFiles(arg).map((path) => ({ kind: 'image', path }));
  if (extname(arg).toLowerCase() === '.npy') return [{ kind: 'npy', path: arg }];
  if (isArchive(arg)) return [{ kind: 'archive', path: arg }];
  if (isImagePath(arg)) return [{ kind: 'image', path: arg }];
  throw new InputError(`${arg}: not an image, directory, .npy or .tar/.tar.gz archive`);
}

/** The sources behind the INPUT arguments; `stdin` allows `-` (once: standard input can be read only once). */
export function gatherSources(args: readonly string[], options: { stdin?: boolean } = {}): Source[] {
  if (args.length === 0) throw new InputError('no INPUT given (image files, directories, .npy or .tar/.tar.gz)');
  if (args.filter((a) => a === STDIN_INPUT).length > 1) throw new InputError('-: standard input can be given once');
  return args.flatMap((arg) => classify(arg, options.stdin ?? false));
}

/** Number of samples, when it is known without decoding anything (image files only). */
export function countSamples(sources: readonly Source[]): number | undefined {
  return sources.every((s) => s.kind === 'image') ? sources.length : undefined;
}

export function loadNpySamples(path: string, shape: SampleShape): { count: number; data: Float32Array } {
  return npySamples(readNpy(path), path, shape);
}

/** Checks that a parsed .npy holds float32 [N,C,H,W] samples of `shape`; `path` names it in errors. */
export function npySamples(npy: NpyArray, path: string, shape: SampleShape): { count: number; data: Float32Array } {
  return { count: npySampleCount(npy.dtype, npy.shape, path, shape), data: npy.data };
}

/** Whether the i-th input (from 0) is in the subset `every` k-th from the `start`-th. */
export const inSubset = (i: number, every: number, start = 0): boolean => i >= start && (i - start) % every === 0;

/**
 * An archive member's sample: its bytes go to the decoder and leave the entry (and with it the
 * caller's frame), so they are garbage as soon as they are decoded.
 */
function loadMember(entry: TarEntry, size: number, input: string, holding?: Holding): Promise<ImageSample> {
  const { data } = entry;
  entry.data = Buffer.alloc(0);
  return loadImageSample(data, size, input, holding);
}

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
        if (keep()) decode(source.path, loadImageSample(stdin.bytes, shape.size, 'standard input'));
        return;
      }
      rows = npyStreamRows(stdin.reader, 'standard input', shape, keep);
    } else rows = npyFileRows(source.path, shape, keep);
    // A row at a time: a batch's rows are all of the tensor held in memory.
    for await (const row of rows) {
      inputs.push(source.path);
      sizes.push(null);
      parts.push(row);
      if (inputs.length === batchSize) yield flush();
    }
  };
  const fromArchive = async function* (path: string) {
    let any = false;
    // Opened before the member's bytes are read, handed to its decode once they are.
    let holding: Holding | undefined;
    const beforeData = async (_name: string, size: number) => {
      holding = await budget.open();
      await holding.grow(size);
    };
    // Members left out by `every` are skipped unread.
    const wanted = (name: string) => isImagePath(name) && ((any = true), keep());
    try {
      for await (const entry of readTarEntries(path, wanted, { maxEntryBytes: IMAGE_LIMITS.maxFileBytes, beforeData })) {
        const input = `${path}#${entry.name}`;
        const taken = holding;
        holding = undefined;
        decode(input, loadMember(entry, shape.size, input, taken));
        if (pending.length >= batchSize) yield* drainPending();
      }
    } finally {
      holding?.release();
    }
    if (!any) throw new InputError(`${path}: archive holds no images`);
  };
  for (const source of sources) {
    if (source.kind === 'npy' || source.kind === 'stdin') yield* fromTensors(source);
    else if (source.kind === 'image') {
      if (!keep()) continue;
      decode(source.path, loadImageSample(source.path, shape.size, undefined, await budget.open()));
      if (pending.length >= batchSize) yield* drainPending();
    } else yield* fromArchive(source.path);
  }
  yield* drainPending();
  if (inputs.length > 0) yield flush();
}
