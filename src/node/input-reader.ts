// The one input reader: what an INPUT argument (an image file, a directory of them, a .npy tensor, a
// .tar/.tar.gz archive of images, `-` for standard input) or a request body holds, read into the
// model's samples. The CLI (inputs.ts batches what it reads), the service (serve/samples.ts) and the
// queue worker (queue/shard-scoring.ts, queue/manifest.ts) all read through it, so every input meets
// the same bounds: images and archive members decode within the per-image limits (IMAGE_LIMITS) and,
// given a DecodeBudget, within it; a .npy is a regular file of at most MAX_NPY_BYTES, whole or a row
// at a time; standard input holds one image (within the per-image limit) or one .npy, told apart by
// the .npy magic bytes.

import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { DecodeBudget, IMAGE_LIMITS, isImagePath, listImageFiles, loadImageSample, type Holding, type ImageSample } from '../image/preprocess.js';
import { ChunkReader } from '../io/chunk-reader.js';
import { isNpyBytes, NPY_MAGIC, parseNpy, readNpy, type NpyArray } from '../io/npy.js';
import { readTarEntries } from '../io/tar.js';
import { npyFileRows, npyStreamRows } from './npy-rows.js';
import { npySampleCount, type SampleShape } from './sample-shape.js';
import { InputError, InternalError } from '../errors.js';

export { isNpyBytes, type ImageSample, type SampleShape };

/** The INPUT argument that means standard input. */
export const STDIN_INPUT = '-';

export type Source =
  | { kind: 'image'; path: string }
  | { kind: 'npy'; path: string }
  | { kind: 'archive'; path: string }
  /** `-`: one image or one .npy on standard input (told apart by content; the .npy read a row at a time). */
  | { kind: 'stdin'; path: typeof STDIN_INPUT };

/** Samples read whole: `count` of them concatenated, NCHW float32 normalised to [-1, 1]. */
export interface Samples {
  count: number;
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

/**
 * One image (a file's path or its bytes) as the model takes it; `label` names it in errors. A
 * `holding` of a DecodeBudget counts the decode's bytes and is released once the tensor is made.
 */
export function readImage(input: string | Uint8Array, shape: SampleShape, label?: string, holding?: Holding): Promise<ImageSample> {
  return loadImageSample(input, shape.size, label, holding);
}

/** Checks that a parsed .npy holds float32 [N,C,H,W] samples of `shape`; `source` names it in errors. */
function npySamples(npy: NpyArray, source: string, shape: SampleShape): Samples {
  return { count: npySampleCount(npy.dtype, npy.shape, source, shape), data: npy.data };
}

/** The samples of the .npy file at `path`, read whole. */
export function readNpySamples(path: string, shape: SampleShape): Samples {
  return npySamples(readNpy(path), path, shape);
}

/** The samples of .npy bytes (a request body) named `name` in errors. */
export function npyBytesSamples(bytes: Uint8Array, name: string, shape: SampleShape): Samples {
  return npySamples(parseNpy(bytes, name), name, shape);
}

/** A .npy file's rows (each [C,H,W]) that `keep` chooses (asked once per row, in order), read a row at a time. */
export { npyFileRows as npyRows };

export type StdinInput = { kind: 'image'; bytes: Buffer } | { kind: 'npy'; rows: (shape: SampleShape, keep: () => boolean) => AsyncGenerator<Float32Array> };

/** Standard input: one image, read whole within the per-image limit, or one .npy, read a row at a time. */
export async function openStdin(stream: NodeJS.ReadableStream = process.stdin, imageLimit = IMAGE_LIMITS.maxFileBytes): Promise<StdinInput> {
  const fail = (msg: string): never => {
    throw new InputError(`standard input: ${msg}`, { subject: 'standard input' });
  };
  const chunks = (async function* () {
    for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  })();
  const reader = new ChunkReader(chunks, fail);
  const head = await reader.peek(NPY_MAGIC.length);
  if (head.length === 0) fail('empty (expected an image or a .npy tensor)');
  if (isNpyBytes(head)) return { kind: 'npy', rows: (shape, keep) => npyStreamRows(reader, 'standard input', shape, keep) };
  return { kind: 'image', bytes: await reader.readAll(imageLimit, () => fail(`more than ${imageLimit} bytes, too large for an image (a .npy may be larger)`)) };
}

/** An image member of an archive, named `archive#member`; `read` decodes it (once). */
export interface ArchiveImage {
  name: string;
  input: string;
  read(): Promise<ImageSample>;
}

/**
 * The image members of the archive at `path` that `wanted` chooses (asked once per image member, in
 * archive order; unwanted ones are skipped unread). Each member is bounded as an image file is. With
 * a `budget`, a member's bytes are counted from before they are read until its decode is done, so
 * each must be read before the next is yielded for; without one, only the per-image limits bound them.
 */
export async function* archiveImages(path: string, shape: SampleShape, wanted: (name: string) => boolean = () => true, budget?: DecodeBudget): AsyncGenerator<ArchiveImage> {
  let holding: Holding | undefined;
  const beforeData = budget && (async (_name: string, size: number) => {
    holding = await budget.open();
    await holding.grow(size);
  });
  let any = false;
  const filter = (name: string) => isImagePath(name) && ((any = true), wanted(name));
  try {
    for await (const entry of readTarEntries(path, filter, { maxEntryBytes: IMAGE_LIMITS.maxFileBytes, beforeData })) {
      const input = `${path}#${entry.name}`;
      const taken = holding;
      holding = undefined;
      // The bytes go to the decoder and leave the entry (and with it the caller's frame), so they are garbage once decoded.
      let data: Buffer | undefined = entry.data;
      entry.data = Buffer.alloc(0);
      const read = () => {
        const bytes = data;
        data = undefined;
        if (bytes === undefined) return Promise.reject(new InternalError(`${input}: read twice`));
        return loadImageSample(bytes, shape.size, input, taken);
      };
      yield { name: entry.name, input, read };
    }
  } finally {
    holding?.release();
  }
  if (!any) throw new InputError(`${path}: archive holds no images`);
}

/** The names of the image members of the archive at `path`, in order; none is held in memory. */
export async function archiveImageNames(path: string): Promise<string[]> {
  const members: string[] = [];
  // The filter records the names and declines, so no member's bytes are read.
  for await (const _ of readTarEntries(path, (name) => (isImagePath(name) && members.push(name), false)));
  if (members.length === 0) throw new InputError(`${path}: archive holds no images`);
  return members;
}
