// `-` as an INPUT: standard input holding one image (read whole, within the per-image limit) or one
// .npy tensor (read a row at a time by npy-rows.ts), told apart by the .npy magic bytes.

import { InputError } from '../errors.js';
import { IMAGE_LIMITS } from '../image/preprocess.js';
import { ChunkReader } from '../io/chunk-reader.js';

/** The INPUT argument that means standard input. */
export const STDIN_INPUT = '-';

export type StdinInput = { kind: 'image'; bytes: Buffer } | { kind: 'npy'; reader: ChunkReader };

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

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
  if (isNpyBytes(head)) return { kind: 'npy', reader };
  return { kind: 'image', bytes: await reader.readAll(imageLimit, () => fail(`more than ${imageLimit} bytes, too large for an image (a .npy may be larger)`)) };
}

/** Whether the bytes start with the .npy magic string. */
export function isNpyBytes(bytes: Uint8Array): boolean {
  return bytes.length >= NPY_MAGIC.length && NPY_MAGIC.every((b, i) => bytes[i] === b);
}
