// A ZIP writer for torch.save archives: stored entries (torch never compresses), each entry's data
// aligned to 64 bytes with a padding extra field as torch's writer does (readers may map storages
// in place), sizes and CRCs in the local headers. No zip64: an archive must stay under 4 GiB, which
// is also the largest checkpoint rcae reads.
import { WeightsFormatError } from './format-error.js';
import { crc32 } from './inflate.js';

export interface ZipPart {
  name: string;
  /** The entry's bytes (a view of a tensor's values, not a copy). */
  data: Uint8Array;
}

const ALIGN = 64;
const LOCAL_SIZE = 30;
const CENTRAL_SIZE = 46;
const END_SIZE = 22;
/** Extra-field id torch's writer uses for its padding ('FB'), filled with 'Z'. */
const PAD_ID = 0x4246;
const UTF8_NAMES = 0x0800;
/** Offsets and sizes must fit the classic 32-bit fields. */
const MAX_ARCHIVE_BYTES = 0xffffffff;

/** The archive as parts to write in order; `path` names the file in errors. */
export function encodeStoredZip(path: string, entries: readonly ZipPart[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const e of entries) {
    if (names.has(e.name)) throw new WeightsFormatError(path, `cannot write: duplicate zip entry ${e.name}`);
    names.add(e.name);
    const name = new TextEncoder().encode(e.name);
    const size = e.data.length;
    const crc = crc32(e.data);
    // Padding so the data starts on a 64-byte boundary; the extra field itself takes 4 bytes.
    const unpadded = offset + LOCAL_SIZE + name.length;
    const pad = (ALIGN - ((unpadded + 4) % ALIGN)) % ALIGN;
    const extra = new Uint8Array(4 + pad).fill(0x5a);
    const ev = new DataView(extra.buffer);
    ev.setUint16(0, PAD_ID, true);
    ev.setUint16(2, pad, true);
    if (offset + LOCAL_SIZE + name.length + extra.length + size > MAX_ARCHIVE_BYTES) {
      throw new WeightsFormatError(path, `cannot write: the archive would pass ${MAX_ARCHIVE_BYTES} bytes at entry ${e.name}`);
    }
    const local = new Uint8Array(LOCAL_SIZE);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 10, true);
    lv.setUint16(6, UTF8_NAMES, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, size, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra.length, true);
    parts.push(local, name, extra, e.data);

    const c = new Uint8Array(CENTRAL_SIZE);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 10, true);
    cv.setUint16(6, 10, true);
    cv.setUint16(8, UTF8_NAMES, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, size, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.push(c, name);
    offset += LOCAL_SIZE + name.length + extra.length + size;
  }
  const dirSize = central.reduce((n, b) => n + b.length, 0);
  if (offset + dirSize + END_SIZE > MAX_ARCHIVE_BYTES) throw new WeightsFormatError(path, `cannot write: the archive would pass ${MAX_ARCHIVE_BYTES} bytes`);
  if (entries.length > 0xffff) throw new WeightsFormatError(path, `cannot write: ${entries.length} entries need zip64`);
  const end = new Uint8Array(END_SIZE);
  const dv = new DataView(end.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, entries.length, true);
  dv.setUint16(10, entries.length, true);
  dv.setUint32(12, dirSize, true);
  dv.setUint32(16, offset, true);
  return [...parts, ...central, end];
}
