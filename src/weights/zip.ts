// A ZIP reader for torch.save archives. The whole file is in memory; every offset and size read
// from it is checked against the file before use, so a truncated or hostile archive fails with a
// one-line error instead of reading out of bounds or inflating without limit.
import { WeightsFormatError } from './format-error.js';
import { crc32, inflateRaw } from './inflate.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: 'stored' | 'deflate';
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  /** Where the entry's local header starts. */
  readonly headerOffset: number;
  /** Where the entry's (possibly compressed) bytes start, after its local header. */
  readonly dataOffset: number;
}

export const ZIP_LIMITS = {
  maxEntries: 1 << 18,
  maxNameLength: 4096,
  // Deflate cannot compress better than about 1032:1; a larger claimed ratio is a lie or a bomb.
  maxDeflateRatio: 1100,
  /** One inflated entry must fit one ArrayBuffer (4 GiB in Node and in browsers). */
  maxEntryBytes: 2 ** 32,
  /**
   * All entries read from one archive inflate to at most this many times the archive's size (or
   * 64 MiB for small archives): torch.save stores its entries, so heavy compression means a bomb.
   */
  maxArchiveExpansion: 64,
  minInflateBudget: 64 * 1024 * 1024,
};

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const END_SIZE = 22;
const LOCATOR64_SIZE = 20;
const END64_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;

export class ZipArchive {
  /** Bytes the entries read so far inflated to, against the archive's budget. */
  private inflated = 0;
  private readonly inflateBudget: number;

  private constructor(
    readonly source: string,
    private readonly bytes: Uint8Array,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {
    this.inflateBudget = Math.min(ZIP_LIMITS.maxEntryBytes, Math.max(ZIP_LIMITS.minInflateBudget, bytes.length * ZIP_LIMITS.maxArchiveExpansion));
  }

  /** Parses the central directory of an in-memory archive; `source` names the file in errors. */
  static open(bytes: Uint8Array, source: string): ZipArchive {
    return new ZipArchive(source, bytes, readCentralDirectory(new Reader(bytes, source)));
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes, CRC-checked; stored entries are returned as a view, not a copy. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new WeightsFormatError(this.source, `zip entry ${name} not found`);
    const raw = this.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 'stored') {
      data = raw;
    } else {
      if (this.inflated + entry.size > this.inflateBudget) {
        throw new WeightsFormatError(this.source, `zip entry ${name} would inflate the archive past ${this.inflateBudget} bytes (${ZIP_LIMITS.maxArchiveExpansion} times its size)`);
      }
      this.inflated += entry.size;
      try {
        data = inflateRaw(raw, entry.size);
      } catch (err) {
        throw new WeightsFormatError(this.source, `corrupt zip: entry ${name} does not inflate (${(err as Error).message})`);
      }
      if (data.length !== entry.size) {
        throw new WeightsFormatError(this.source, `corrupt zip: entry ${name} inflates to ${data.length} bytes, header says ${entry.size}`);
      }
    }
    if (crc32(data) !== entry.crc32) throw new WeightsFormatError(this.source, `corrupt zip: CRC mismatch in entry ${name}`);
    return data;
  }
}

/** Little-endian field access that turns every out-of-range read into a format error. */
class Reader {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array, readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  fail(problem: string): never {
    throw new WeightsFormatError(this.source, problem);
  }

  need(offset: number, size: number, what: string): void {
    if (offset < 0 || offset + size > this.bytes.length) {
      this.fail(`truncated zip (${what} at ${offset} beyond end of file ${this.bytes.length})`);
    }
  }

  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  u64(offset: number, what: string): number {
    const v = this.view.getBigUint64(offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`corrupt zip: ${what} ${v} is too large`);
    return Number(v);
  }
}

interface Directory {
  entries: number;
  offset: number;
  size: number;
  /** Where the structures after the central directory begin; entries must end before it. */
  end: number;
}

function findEndRecord(r: Reader): number {
  if (r.length < END_SIZE) r.fail(`not a zip archive (${r.length} bytes is too short)`);
  const lowest = Math.max(0, r.length - END_SIZE - MAX_COMMENT);
  for (let p = r.length - END_SIZE; p >= lowest; p--) {
    if (r.u32(p) === SIG_END && p + END_SIZE + r.u16(p + 20) <= r.length) return p;
  }
  return r.fail('truncated zip (no end of central directory record)');
}

function readDirectoryLocation(r: Reader): Directory {
  const end = findEndRecord(r);
  if (r.u16(end + 4) !== 0 || r.u16(end + 6) !== 0) r.fail('multi-disk zip archives are not supported');
  let dir: Directory = { entries: r.u16(end + 10), size: r.u32(end + 12), offset: r.u32(end + 16), end };
  const locator = end - LOCATOR64_SIZE;
  if (locator >= 0 && r.u32(locator) === SIG_LOCATOR64) {
    const at = r.u64(locator + 8, 'zip64 end record offset');
    if (at + END64_SIZE > locator) r.fail(`corrupt zip: zip64 end record at ${at} overlaps its locator at ${locator}`);
    if (r.u32(at) !== SIG_END64) r.fail(`corrupt zip: no zip64 end record at ${at}`);
    if (r.u32(at + 16) !== 0 || r.u32(at + 20) !== 0) r.fail('multi-disk zip archives are not supported');
    dir = { entries: r.u64(at + 32, 'entry count'), size: r.u64(at + 40, 'central directory size'), offset: r.u64(at + 48, 'central directory offset'), end: at };
  }
  if (dir.offset > dir.end) r.fail(`truncated zip (central directory at ${dir.offset} beyond end of file ${r.length})`);
  if (dir.offset + dir.size > dir.end) r.fail(`truncated zip (central directory of ${dir.size} bytes at ${dir.offset} runs past its end record at ${dir.end})`);
  if (dir.entries > ZIP_LIMITS.maxEntries) r.fail(`zip has ${dir.entries} entries, more than the limit of ${ZIP_LIMITS.maxEntries}`);
  if (dir.entries * CENTRAL_SIZE > dir.size) r.fail(`corrupt zip: ${dir.entries} entries cannot fit in a ${dir.size}-byte central directory`);
  return dir;
}

interface RawSizes {
  compressed: number;
  size: number;
  local: number;
}

/** Replaces the 0xffffffff placeholders of a central header with the values of its zip64 extra field. */
function applyZip64Extra(r: Reader, sizes: RawSizes, extraStart: number, extraEnd: number, name: string): RawSizes {
  const wanted = (['size', 'compressed', 'local'] as const).filter((k) => sizes[k] === 0xffffffff);
  if (wanted.length === 0) return sizes;
  for (let p = extraStart; p + 4 <= extraEnd; ) {
    const id = r.u16(p);
    const len = r.u16(p + 2);
    if (p + 4 + len > extraEnd) break;
    if (id === ZIP64_EXTRA_ID) {
      if (len < wanted.length * 8) r.fail(`corrupt zip: zip64 field of entry ${name} is too short`);
      const out = { ...sizes };
      wanted.forEach((k, i) => (out[k] = r.u64(p + 4 + i * 8, `${k} of entry ${name}`)));
      return out;
    }
    p += 4 + len;
  }
  return r.fail(`corrupt zip: entry ${name} needs a zip64 field but has none`);
}

function readCentralDirectory(r: Reader): Map<string, ZipEntry> {
  const dir = readDirectoryLocation(r);
  const dirEnd = dir.offset + dir.size;
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let p = dir.offset;
  for (let i = 0; i < dir.entries; i++) {
    if (p + CENTRAL_SIZE > dirEnd) r.fail(`corrupt zip: central directory ends after ${i} of ${dir.entries} entries`);
    if (r.u32(p) !== SIG_CENTRAL) r.fail(`corrupt zip: bad central directory entry signature at ${p}`);
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    const nameLen = r.u16(p + 28);
    const extraLen = r.u16(p + 30);
    const commentLen = r.u16(p + 32);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > dirEnd) r.fail(`corrupt zip: central directory entry ${i} runs past the directory`);
    if (nameLen > ZIP_LIMITS.maxNameLength) r.fail(`corrupt zip: entry name of ${nameLen} bytes is longer than ${ZIP_LIMITS.maxNameLength}`);
    let name: string;
    try {
      name = decoder.decode(r.bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    } catch {
      return r.fail(`corrupt zip: entry ${i} has a name that is not UTF-8`);
    }
    if (flags & 1) r.fail(`zip entry ${name} is encrypted`);
    if (method !== 0 && method !== 8) r.fail(`zip entry ${name} uses compression method ${method}; only stored and deflate are supported`);
    if (entries.has(name)) r.fail(`corrupt zip: duplicate entry ${name}`);
    const extraStart = p + CENTRAL_SIZE + nameLen;
    const sizes = applyZip64Extra(r, { compressed: r.u32(p + 20), size: r.u32(p + 24), local: r.u32(p + 42) }, extraStart, extraStart + extraLen, name);
    entries.set(name, {
      name,
      method: method === 0 ? 'stored' : 'deflate',
      compressedSize: sizes.compressed,
      size: sizes.size,
      crc32: r.u32(p + 16),
      headerOffset: sizes.local,
      dataOffset: locateData(r, name, sizes, method, dir.offset),
    });
    p = next;
  }
  refuseOverlaps(r, [...entries.values()]);
  return entries;
}

/** Two records pointing into the same bytes would let one compressed stream count many times. */
function refuseOverlaps(r: Reader, entries: ZipEntry[]): void {
  const spans = entries.map((e) => ({ name: e.name, start: e.headerOffset, end: e.dataOffset + e.compressedSize })).sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].start < spans[i - 1].end) r.fail(`corrupt zip: entries ${spans[i - 1].name} and ${spans[i].name} overlap in the file`);
  }
}

/** Validates an entry's local header and sizes; returns where its data starts. */
function locateData(r: Reader, name: string, sizes: RawSizes, method: number, dataLimit: number): number {
  r.need(sizes.local, LOCAL_SIZE, `local header of ${name}`);
  if (r.u32(sizes.local) !== SIG_LOCAL) r.fail(`corrupt zip: bad local header signature for ${name} at ${sizes.local}`);
  const start = sizes.local + LOCAL_SIZE + r.u16(sizes.local + 26) + r.u16(sizes.local + 28);
  if (start + sizes.compressed > dataLimit) {
    r.fail(`truncated zip (entry ${name} of ${sizes.compressed} bytes at ${start} overruns the central directory at ${dataLimit})`);
  }
  if (method === 0 && sizes.size !== sizes.compressed) r.fail(`corrupt zip: stored entry ${name} has size ${sizes.size} but ${sizes.compressed} stored bytes`);
  if (method === 8 && (sizes.size > ZIP_LIMITS.maxEntryBytes || sizes.size > Math.max(1024, sizes.compressed * ZIP_LIMITS.maxDeflateRatio))) {
    r.fail(`corrupt zip: entry ${name} claims ${sizes.size} bytes from ${sizes.compressed} compressed bytes`);
  }
  return start;
}
