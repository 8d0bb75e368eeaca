// Writing .npy files: the encoding of io/npy.ts through the atomic writer, so a file appears whole
// or not at all and an interrupted write leaves no temporary behind.
import { encodeNpy, NpyError } from '../io/npy.js';
import { writeFileAtomicallySync } from './atomic.js';

/** Writes float32 `data` with `shape` as a .npy file atomically; errors name `path`. */
export function writeNpy(path: string, data: Float32Array, shape: readonly number[]): void {
  let bytes: Uint8Array;
  try {
    bytes = encodeNpy(data, shape);
  } catch (err) {
    throw new NpyError(`${path}: ${(err as Error).message}`);
  }
  try {
    writeFileAtomicallySync(path, bytes);
  } catch (err) {
    throw new NpyError((err as Error).message);
  }
}
