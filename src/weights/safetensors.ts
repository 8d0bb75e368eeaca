// safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
// Reading validates the header the way the reference implementation does (offsets in range,
// sized to match dtype x shape, contiguous and covering the data exactly); encoding builds the
// bytes, which src/node/safetensors-file.ts writes to a file.
import { WeightsFormatError, formatShape } from './format-error.js';
import { elementCount } from '../graph/architecture.js';
import { DTYPE_BYTES, MAX_RANK, StoredTensor, assertLittleEndianHost, type HostTensor, type TensorDType } from './tensor.js';

export const SAFETENSORS_MAX_HEADER = 100_000_000;

const READ_DTYPES: ReadonlyMap<string, TensorDType> = new Map([
  ['F32', 'f32'], ['F16', 'f16'], ['BF16', 'bf16'], ['F64', 'f64'], ['I64', 'i64'], ['I32', 'i32'], ['U8', 'u8'], ['BOOL', 'bool'],
]);

export interface SafetensorsContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** True when the bytes start like a safetensors file (plausible header length, then a JSON object). */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9 || bytes[8] !== 0x7b) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(SAFETENSORS_MAX_HEADER);
}

interface Entry {
  name: string;
  dtype: TensorDType;
  shape: number[];
  begin: number;
  end: number;
}

export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsContents {
  const fail = (problem: string): never => {
    throw new WeightsFormatError(source, problem);
  };
  if (bytes.length < 8) fail(`truncated safetensors file (${bytes.length} bytes)`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(SAFETENSORS_MAX_HEADER)) fail(`safetensors header of ${declared} bytes exceeds the limit of ${SAFETENSORS_MAX_HEADER}`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) fail(`truncated safetensors file (header of ${headerLength} bytes, file is ${bytes.length})`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    // JSON.parse quotes the header's own bytes; one line, no control characters (printable.ts
    // is a layer above weights, hence the plain replacement here).
    return fail(`safetensors header is not valid JSON (${(err as Error).message.split('\n')[0].replace(/[\x00-\x1f\x7f-\x9f]/g, '?').slice(0, 300)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('safetensors header is not a JSON object');

  const data = bytes.subarray(8 + headerLength);
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('safetensors __metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as object)) {
        if (typeof v !== 'string') fail(`safetensors __metadata__ value ${k} is not a string`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    entries.push(parseEntry(name, raw, fail));
  }

  // Sorted by offset, the tensors must tile the data section exactly: no gaps, no overlaps.
  let expected = 0;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin)) {
    if (e.begin !== expected) fail(`tensor ${e.name}: data starts at ${e.begin}, expected ${expected} (overlapping or gapped data_offsets)`);
    expected = e.end;
  }
  if (expected !== data.length) fail(`safetensors data section is ${data.length} bytes but the tensors cover ${expected}`);

  const tensors = new Map<string, HostTensor>();
  for (const e of entries) tensors.set(e.name, new StoredTensor(e.dtype, e.shape, data.subarray(e.begin, e.end), { source, name: e.name }));
  return { tensors, metadata };
}

function parseEntry(name: string, raw: unknown, fail: (problem: string) => never): Entry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`tensor ${name}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  const type = typeof dtype === 'string' ? READ_DTYPES.get(dtype) : undefined;
  if (!type) return fail(`tensor ${name}: dtype ${JSON.stringify(dtype)} is not one rcae reads (${[...READ_DTYPES.keys()].join(', ')})`);
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isIndex)) fail(`tensor ${name}: shape is not a list of at most ${MAX_RANK} non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) fail(`tensor ${name}: data_offsets is not a pair of non-negative integers`);
  const [begin, end] = offsets as number[];
  const dims = shape as number[];
  const size = elementCount(dims) * DTYPE_BYTES[type];
  if (end < begin || end - begin !== size) fail(`tensor ${name}: data_offsets [${begin},${end}] do not hold ${formatShape(dims)} ${dtype} (${size} bytes)`);
  return { name, dtype: type, shape: dims, begin, end };
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * A safetensors file for float32 tensors in the given order, as parts to write one after another
 * (the tensors' own bytes are views, not copies). `path` names the file in errors.
 */
export function encodeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array[] {
  assertLittleEndianHost();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '' || t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new WeightsFormatError(path, `cannot write tensor named ${JSON.stringify(t.name)} (empty, reserved or repeated)`);
    if (elementCount(t.shape) !== t.data.length) throw new WeightsFormatError(path, `tensor ${t.name}: shape ${formatShape(t.shape)} does not hold ${t.data.length} values`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  headerBytes.set(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  return [prefix, headerBytes, ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}
