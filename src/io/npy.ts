// NumPy .npy files (format versions 1-3): reading any little-endian numeric C-order array into a
// Float32Array, and encoding float32 arrays (node/npy-file.ts writes them atomically). The
// header is a Python dict literal; it is parsed by a small grammar, never evaluated.

import { float16Value } from '../gpu/f16.js';
import { quotedMessage } from '../printable.js';
import { readRegularFile } from './regular-file.js';
import { RcaeError } from '../errors.js';

export type NpyDtype = 'f2' | 'f4' | 'f8' | 'i1' | 'i2' | 'i4' | 'i8' | 'u1' | 'u2' | 'u4' | 'u8' | 'b1';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** The values converted to float32 (64-bit integers beyond 2^24 lose precision). */
  data: Float32Array;
}

export class NpyError extends RcaeError {
  readonly kind = 'format';
}

/** The bytes every .npy starts with: \x93NUMPY. */
export const NPY_MAGIC: readonly number[] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const MAX_HEADER_BYTES = 1 << 20;
/** Largest .npy file read: 1 GiB, 2^28 float32 values (about 16,000 samples of 3x128x128). */
export const MAX_NPY_BYTES = 2 ** 30;
/** Bytes a .npy header may take before its data (npyHeaderEnd's answer is at most this). */
export const MAX_NPY_HEADER_END = 12 + (1 << 20);
const MAX_DIMS = 64;
const ITEM_BYTES: Record<NpyDtype, number> = { f2: 2, f4: 4, f8: 8, i1: 1, i2: 2, i4: 4, i8: 8, u1: 1, u2: 2, u4: 4, u8: 8, b1: 1 };

/** Whether `bytes` start with the .npy magic string. */
export function isNpyBytes(bytes: Uint8Array): boolean {
  return bytes.length >= NPY_MAGIC.length && NPY_MAGIC.every((b, i) => bytes[i] === b);
}

export function readNpy(path: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(path, MAX_NPY_BYTES, 'a .npy file');
  } catch (err) {
    throw new NpyError((err as Error).message);
  }
  return parseNpy(bytes, path);
}

/** What a .npy header says: the dtype and shape, where the data starts, and how many bytes it takes. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  dataStart: number;
  /** Bytes the shape's values take (count x item size). */
  dataBytes: number;
}

/** One-line errors naming `source`; the header is the file's text, so it is quoted printable and bounded. */
const failer = (source: string) => (msg: string): never => {
  throw new NpyError(`${source}: ${quotedMessage(msg, 500)}`);
};

/**
 * Where the header of a .npy ends (its data starts), from its first 12 bytes (or fewer, for a
 * file that short): the caller reads that much before parseNpyHeader.
 */
export function npyHeaderEnd(prefix: Uint8Array, source: string): number {
  const fail = failer(source);
  if (prefix.length < 10 || !isNpyBytes(prefix)) fail('not a .npy file (bad magic)');
  const major = prefix[6];
  if (major < 1 || major > 3) fail(`unsupported .npy format version ${major}.${prefix[7]}`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (prefix.length < 8 + lengthBytes) fail('truncated header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES}`);
  return 8 + lengthBytes + headerLength;
}

/**
 * Parses the header at the start of `bytes` (at least npyHeaderEnd's bytes). `available`: the data
 * bytes present after it, when known (a file's size); the shape must then take exactly that many.
 */
export function parseNpyHeader(bytes: Uint8Array, source: string, available?: number): NpyHeader {
  const fail = failer(source);
  const dataStart = npyHeaderEnd(bytes.subarray(0, 12), source);
  const major = bytes[6];
  const headerStart = major === 1 ? 10 : 12;
  if (dataStart > bytes.length) fail(`header length ${dataStart - headerStart} runs past the end of the file (${bytes.length} bytes)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const fields = parseHeaderDict(header, fail);

  const descr = fields.get('descr');
  if (typeof descr !== 'string') fail(`header descr must be a string (structured dtypes are not supported): ${header.trim()}`);
  const dtype = parseDescr(descr as string, fail);
  const fortran = fields.get('fortran_order');
  if (typeof fortran !== 'boolean') fail('header fortran_order must be True or False');
  if (fortran) fail('fortran_order arrays are not supported; save with np.ascontiguousarray');
  const shape = fields.get('shape');
  if (!Array.isArray(shape)) fail('header shape must be a tuple of integers');
  const dims = shape as number[];
  if (dims.length > MAX_DIMS) fail(`shape has ${dims.length} dimensions (at most ${MAX_DIMS})`);

  const item = ITEM_BYTES[dtype];
  // Bounded by the bytes present (or the largest file read), so the product cannot overflow before the check fails.
  const bound = available ?? MAX_NPY_BYTES;
  let count = 1;
  for (const d of dims) {
    count *= d;
    if (count * item > bound) fail(`shape [${dims.join(',')}] of ${dtype} needs more than the ${bound} data bytes ${available === undefined ? 'accepted' : 'present'}`);
  }
  if (available !== undefined && count * item !== available) fail(`shape [${dims.join(',')}] of ${dtype} needs ${count * item} data bytes, file has ${available}`);
  return { dtype, shape: dims, dataStart, dataBytes: count * item };
}

/** Parses .npy bytes; `source` names the data in error messages. */
export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  const dataStart = npyHeaderEnd(bytes.subarray(0, 12), source);
  const { dtype, shape, dataBytes } = parseNpyHeader(bytes, source, Math.max(0, bytes.length - dataStart));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dtype, shape, data: toFloat32(view, dataStart, dataBytes / ITEM_BYTES[dtype], dtype) };
}

type HeaderValue = string | boolean | number[];

/** Parses `{'key': value, ...}` where value is a quoted string, True/False, or a tuple of integers. */
function parseHeaderDict(text: string, fail: (msg: string) => never): Map<string, HeaderValue> {
  let i = 0;
  const out = new Map<string, HeaderValue>();
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (ch: string) => {
    skipSpace();
    if (text[i] !== ch) fail(`malformed header at offset ${i}: expected '${ch}' in ${JSON.stringify(text.trim())}`);
    i++;
  };
  const string = (): string => {
    skipSpace();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') fail(`malformed header at offset ${i}: expected a string`);
    const end = text.indexOf(quote, i + 1);
    if (end < 0) fail('malformed header: unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (): HeaderValue => {
    skipSpace();
    if (text.startsWith('True', i)) return (i += 4), true;
    if (text.startsWith('False', i)) return (i += 5), false;
    if (text[i] === "'" || text[i] === '"') return string();
    if (text[i] !== '(') fail(`malformed header at offset ${i}: unsupported value`);
    i++;
    const dims: number[] = [];
    for (;;) {
      skipSpace();
      if (text[i] === ')') break;
      const m = /^\d{1,15}/.exec(text.slice(i));
      if (!m) fail(`malformed header at offset ${i}: shape entries must be non-negative integers`);
      dims.push(Number(m![0]));
      i += m![0].length;
      skipSpace();
      if (text[i] === ',') i++;
      else if (text[i] !== ')') fail(`malformed header at offset ${i}: expected ',' or ')' in shape`);
    }
    i++;
    return dims;
  };
  expect('{');
  for (;;) {
    skipSpace();
    if (text[i] === '}') break;
    const key = string();
    expect(':');
    if (out.has(key)) fail(`header repeats key '${key}'`);
    out.set(key, value());
    skipSpace();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(`malformed header at offset ${i}: expected ',' or '}'`);
  }
  return out;
}

function parseDescr(descr: string, fail: (msg: string) => never): NpyDtype {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  if (!m) fail(`unsupported dtype '${descr}'`);
  const [, order, kind, size] = m!;
  const dtype = `${kind}${size}` as NpyDtype;
  if (!(dtype in ITEM_BYTES)) fail(`unsupported dtype '${descr}'`);
  if (order === '>' && ITEM_BYTES[dtype] > 1) fail(`big-endian dtype '${descr}' is not supported`);
  return dtype;
}

function toFloat32(view: DataView, offset: number, count: number, dtype: NpyDtype): Float32Array {
  const out = new Float32Array(count);
  const step = ITEM_BYTES[dtype];
  const read: (at: number) => number = {
    f2: (at: number) => float16Value(view.getUint16(at, true)),
    f4: (at: number) => view.getFloat32(at, true),
    f8: (at: number) => view.getFloat64(at, true),
    i1: (at: number) => view.getInt8(at),
    i2: (at: number) => view.getInt16(at, true),
    i4: (at: number) => view.getInt32(at, true),
    i8: (at: number) => Number(view.getBigInt64(at, true)),
    u1: (at: number) => view.getUint8(at),
    u2: (at: number) => view.getUint16(at, true),
    u4: (at: number) => view.getUint32(at, true),
    u8: (at: number) => Number(view.getBigUint64(at, true)),
    b1: (at: number) => (view.getUint8(at) !== 0 ? 1 : 0),
  }[dtype];
  for (let i = 0; i < count; i++) out[i] = read(offset + i * step);
  return out;
}


/** The bytes of a version-1 .npy file holding `data` as little-endian float32 with `shape`. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new NpyError(`shape [${shape.join(',')}] does not describe ${data.length} values`);
  }
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${dims}, }`;
  // numpy pads with spaces so that the data starts on a 64-byte boundary, ending the header with '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = Buffer.alloc(total + data.length * 4);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const body = new DataView(out.buffer, out.byteOffset + total, data.length * 4);
  for (let i = 0; i < data.length; i++) body.setFloat32(i * 4, data[i], true);
  return out;
}
