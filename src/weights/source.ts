// Where a model's bytes come from: a path (Node) or URL, bytes already in memory, a File or Blob
// (a browser's drop or file picker), or nothing for the bundled default model. Only standard
// types; strings are read by the platform (src/platform.ts).
import { platform } from '../platform.js';
import { MAX_CHECKPOINT_BYTES } from './checkpoint.js';
import { LimitError } from '../errors.js';

export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Blob;

export interface SourceBytes {
  bytes: Uint8Array;
  /** What errors call it: the path, the URL, the file name, or 'model bytes'. */
  name: string;
}

export async function readModelSource(source: ModelSource | undefined): Promise<SourceBytes> {
  if (source === undefined) return readPath(platform().defaultModel().weights);
  if (typeof source === 'string') return readPath(source);
  if (source instanceof URL) return readPath(source.href);
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: 'model bytes' };
  if (ArrayBuffer.isView(source)) return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), name: 'model bytes' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as Blob & { name?: string }).name || 'model blob';
    if (source.size > MAX_CHECKPOINT_BYTES) throw new LimitError(`${name}: ${source.size} bytes is more than the limit of ${MAX_CHECKPOINT_BYTES}`);
    return { bytes: new Uint8Array(await source.arrayBuffer()), name };
  }
  throw new TypeError('model source must be a path or URL, an ArrayBuffer or typed array, or a Blob/File');
}

async function readPath(path: string): Promise<SourceBytes> {
  return { bytes: await platform().readBytes(path, MAX_CHECKPOINT_BYTES), name: path };
}
