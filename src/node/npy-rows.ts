// The samples of a .npy float32 [N,C,H,W] input, read a row at a time from its file (or from standard
// input), so that a 1 GiB tensor never sits in memory whole: what a batch holds is all there is. The
// header is checked as readNpy checks it (the same one-line errors), the shape as input-reader.ts's whole-array reads do.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { ChunkReader } from '../io/chunk-reader.js';
import { MAX_NPY_BYTES, npyHeaderEnd, NpyError, parseNpyHeader } from '../io/npy.js';
import { checkRegular, FileRefusedError } from '../io/regular-file.js';
import { npySampleCount, type SampleShape } from './sample-shape.js';

/** Floats read as little-endian bytes into `row`: as they are on little-endian machines, swapped elsewhere. */
function fromLittleEndian(row: Float32Array): Float32Array {
  if (endianness() === 'LE') return row;
  const view = new DataView(row.buffer, row.byteOffset, row.byteLength);
  for (let i = 0; i < row.length; i++) row[i] = view.getFloat32(i * 4, true);
  return row;
}

/** The rows of the .npy at `path` that `keep` chooses (asked once per row, in order), each [C,H,W]. */
export async function* npyFileRows(path: string, shape: SampleShape, keep: () => boolean): AsyncGenerator<Float32Array> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO would otherwise wait for a writer, forever.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new NpyError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    /** Reads into `bytes` from `position`; how many bytes there were. */
    const readInto = async (bytes: Uint8Array, position: number): Promise<number> => {
      let n = 0;
      while (n < bytes.length) {
        const { bytesRead } = await handle.read(bytes, n, bytes.length - n, position + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      return n;
    };
    const read = async (length: number, position: number): Promise<Buffer> => {
      const bytes = Buffer.alloc(length);
      return bytes.subarray(0, await readInto(bytes, position));
    };
    let size: number;
    try {
      const st = await handle.stat();
      checkRegular(path, st, MAX_NPY_BYTES, 'a .npy file');
      size = st.size;
    } catch (err) {
      throw err instanceof FileRefusedError ? new NpyError(err.message) : err;
    }
    const headerEnd = npyHeaderEnd(await read(12, 0), path);
    const header = parseNpyHeader(await read(Math.min(headerEnd, size), 0), path, Math.max(0, size - headerEnd));
    const count = npySampleCount(header.dtype, header.shape, path, shape);
    const rowBytes = header.dataBytes / count;
    for (let i = 0; i < count; i++) {
      if (!keep()) continue;
      const row = new Float32Array(rowBytes / 4);
      const got = await readInto(new Uint8Array(row.buffer), header.dataStart + i * rowBytes);
      if (got < rowBytes) throw new NpyError(`${path}: the file ended inside sample ${i} (it shrank while being read)`);
      yield fromLittleEndian(row);
    }
  } finally {
    await handle.close();
  }
}

/** As npyFileRows, for a .npy arriving on a stream (standard input), named `source` in errors. */
export async function* npyStreamRows(reader: ChunkReader, source: string, shape: SampleShape, keep: () => boolean): AsyncGenerator<Float32Array> {
  const headerEnd = npyHeaderEnd(await reader.peek(12), source);
  const header = parseNpyHeader(await reader.read(headerEnd), source);
  const count = npySampleCount(header.dtype, header.shape, source, shape);
  const rowBytes = header.dataBytes / count;
  for (let i = 0; i < count; i++) {
    const bytes = keep() ? await reader.read(rowBytes) : undefined;
    const got = bytes?.length ?? (await reader.skip(rowBytes));
    if (got < rowBytes) throw new NpyError(`${source}: shape [${header.shape.join(',')}] needs ${header.dataBytes} data bytes; the data ended inside sample ${i}`);
    if (bytes) {
      const row = new Float32Array(rowBytes / 4);
      new Uint8Array(row.buffer).set(bytes);
      yield fromLittleEndian(row);
    }
  }
  if ((await reader.skip(1)) > 0) throw new NpyError(`${source}: more data than the shape [${header.shape.join(',')}] takes`);
}
