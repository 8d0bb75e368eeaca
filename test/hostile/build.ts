// Builders of hostile files, one family per class of issue 11 (the held-out corpus is not
// available, so the classes are rebuilt here from the file formats). Shared by the reader tests,
// the property suite and the corpus runner (bench/hostile-corpus.ts). Everything is written from
// the format specifications, independently of the readers under test.
import { crc32, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';

// ---- pickles ----

/** Bytes from opcodes (numbers) and text (latin-1 characters). */
export function bytesOf(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') for (const ch of p) out.push(ch.charCodeAt(0) & 0xff);
    else out.push(...p);
  }
  return new Uint8Array(out);
}

const le32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
};

const binint = (v: number) => bytesOf('J', le32(v));
const shortUnicode = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new Error('shortUnicode: too long');
  return bytesOf(0x8c, b.length, b);
};

export interface TensorSpec {
  name: string;
  storage: string;
  shape: number[];
  strides: number[];
  offset?: number;
  /** Storage type name in torch (default FloatStorage). */
  type?: string;
}

/** A torch.save data.pkl (protocol 2) holding a dict of tensors rebuilt from persistent storages. */
export function tensorDictPickle(tensors: readonly TensorSpec[], numel: ReadonlyMap<string, number>): Uint8Array {
  const parts: Uint8Array[] = [bytesOf(0x80, 2, '}')];
  const tuple = (items: Uint8Array[]) => bytesOf('(', ...items.flatMap((i) => [...i]), 't');
  for (const t of tensors) {
    const pid = tuple([shortUnicode('storage'), bytesOf('ctorch\n', t.type ?? 'FloatStorage', '\n'), shortUnicode(t.storage), shortUnicode('cpu'), binint(numel.get(t.storage) ?? 0)]);
    const args = tuple([bytesOf(...pid, 'Q'), binint(t.offset ?? 0), tuple(t.shape.map(binint)), tuple(t.strides.map(binint)), bytesOf(0x89), bytesOf('N')]);
    parts.push(shortUnicode(t.name), bytesOf('ctorch._utils\n_rebuild_tensor_v2\n'), args, bytesOf('R', 's'));
  }
  parts.push(bytesOf('.'));
  return Buffer.concat(parts);
}

// ---- ZIP ----

export interface ZipMember {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Write this deflate stream instead of compressing `data` (sizes and CRC still describe `data`). */
  stream?: Uint8Array;
  /** The central record claims this size instead of data.length. */
  claimedSize?: number;
}

/**
 * A ZIP archive from the APPNOTE layout. `aliases` adds central records under other names that
 * point at the local record of an existing member: the overlapping-records bomb.
 */
export function zipOf(members: readonly ZipMember[], aliases: readonly { name: string; of: string }[] = []): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets = new Map<string, { offset: number; body: number; method: number; crc: number; size: number }>();
  let offset = 0;
  const record = (name: string, info: { offset: number; body: number; method: number; crc: number; size: number }) => {
    const n = Buffer.from(name, 'utf8');
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(info.method, 10);
    c.writeUInt32LE(info.crc, 16);
    c.writeUInt32LE(info.body, 20);
    c.writeUInt32LE(info.size, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(info.offset, 42);
    central.push(c, n);
  };
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const body = m.stream ? Buffer.from(m.stream) : m.deflate ? deflateRawSync(m.data) : Buffer.from(m.data);
    const method = m.deflate || m.stream ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc32(m.data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.claimedSize ?? m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const info = { offset, body: body.length, method, crc: crc32(m.data), size: m.claimedSize ?? m.data.length };
    offsets.set(m.name, info);
    record(m.name, info);
    parts.push(local, name, body);
    offset += local.length + name.length + body.length;
  }
  for (const a of aliases) record(a.name, offsets.get(a.of)!);
  const dir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length + aliases.length, 8);
  end.writeUInt16LE(members.length + aliases.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dir, end]);
}

/** A torch.save-style archive: archive/data.pkl plus archive/data/<key> storages. */
export function torchZip(tensors: readonly TensorSpec[], storages: ReadonlyMap<string, Uint8Array>, options: { deflate?: boolean } = {}): Uint8Array {
  const numel = new Map([...storages].map(([k, b]) => [k, b.length / 4]));
  return zipOf([
    { name: 'archive/data.pkl', data: tensorDictPickle(tensors, numel) },
    ...[...storages].map(([k, data]) => ({ name: `archive/data/${k}`, data, deflate: options.deflate })),
  ]);
}

/** Class 1: one tensor that views a 16-byte storage with zero strides as `gib` GiB of float32. */
export function zeroStrideCheckpoint(gib = 1): Uint8Array {
  const rows = Math.round((gib * 2 ** 30) / 4 / 4096);
  return torchZip([{ name: 'w', storage: '0', shape: [rows, 4096], strides: [0, 0] }], new Map([['0', new Uint8Array(16)]]));
}

/** Class 1: `count` tensors that all view the same storage of `floats` values (overlapping views). */
export function sharedStorageCheckpoint(count: number, floats = 65536): Uint8Array {
  const tensors = Array.from({ length: count }, (_, i) => ({ name: `t${i}`, storage: '0', shape: [floats], strides: [1] }));
  return torchZip(tensors, new Map([['0', new Uint8Array(floats * 4)]]));
}

/** Class 1: `copies` central records share one deflated storage stream of `bytes` zeros. */
export function overlappingZip(copies: number, bytes = 1 << 20): Uint8Array {
  const storage = new Uint8Array(bytes);
  return zipOf(
    [{ name: 'archive/data.pkl', data: tensorDictPickle([], new Map()) }, { name: 'archive/data/0', data: storage, deflate: true }],
    Array.from({ length: copies }, (_, i) => ({ name: `archive/data/${i + 1}`, of: 'archive/data/0' })),
  );
}

/**
 * A raw DEFLATE stream of fixed-Huffman blocks that expands to about `bytes` zeros at 13 bits per
 * 258 bytes (one literal, then length-258/distance-1 copies): a bomb without zlib's help.
 */
export function deflateBomb(bytes: number): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  const put = (value: number, n: number) => {
    acc |= value << bits;
    bits += n;
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>>= 8;
      bits -= 8;
    }
  };
  // Fixed Huffman codes are sent most significant bit first.
  const code = (c: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) put((c >> i) & 1, 1);
  };
  put(1, 1); // BFINAL
  put(1, 2); // fixed Huffman
  code(0x30, 8); // literal 0
  for (let made = 1; made + 258 <= bytes; made += 258) {
    code(0b11000101, 8); // length symbol 285: 258 bytes
    code(0, 5); // distance code 0: 1
  }
  code(0, 7); // end of block (256)
  if (bits > 0) out.push(acc & 0xff);
  return new Uint8Array(out);
}

// ---- safetensors ----

export function safetensorsOf(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

// ---- .npy ----

export function npyOf(header: string, data: Uint8Array, version = 1): Uint8Array {
  const text = Buffer.from(header + '\n', 'latin1');
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE(text.length);
  else len.writeUInt32LE(text.length);
  return Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]), len, text, data]);
}

/** A float32 [n,3,size,size] .npy whose values are `fill` (NaN and Infinity make the error non-finite). */
export function float32Npy(n: number, size: number, fill: number): Uint8Array {
  const data = new Float32Array(n * 3 * size * size).fill(fill);
  return npyOf(`{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, 3, ${size}, ${size}), }`, new Uint8Array(data.buffer));
}

// ---- tar / gzip ----

function tarHeader(name: string, size: number, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

export function tarOf(members: readonly { name: string; data: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    parts.push(tarHeader(m.name, m.data.length), Buffer.from(m.data), Buffer.alloc((512 - (m.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tarGzOf(members: readonly { name: string; data: Uint8Array }[]): Buffer {
  return gzipSync(tarOf(members));
}

/**
 * A .tar.gz of `count` members, each `data` (named by `name(i)`), as concatenated gzip members (RFC
 * 1952 allows it; gunzip reads them as one stream): the large body is compressed once, not `count` times.
 */
export function repeatedMemberTarGz(data: Uint8Array, count: number, name: (i: number) => string): Buffer {
  const body = gzipSync(Buffer.concat([Buffer.from(data), Buffer.alloc((512 - (data.length % 512)) % 512)]), { level: 9 });
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) parts.push(gzipSync(tarHeader(name(i), data.length)), body);
  parts.push(gzipSync(Buffer.alloc(1024)));
  return Buffer.concat(parts);
}

/** A tar whose only member's header claims `size` bytes and whose data is not there: what is read of it shows. */
export function tarClaiming(name: string, size: number): Buffer {
  return Buffer.concat([tarHeader(name, size), Buffer.alloc(1024)]);
}

// ---- images ----

function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const tag = Buffer.from(type, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(tag)));
  return Buffer.concat([len, tag, data, crc]);
}

/**
 * A real width x height RGB PNG of one grey, its pixels stored uncompressed (deflate level 0): the file
 * is as large as its pixels (~3 bytes each), and a gzip of it is a thousandth of that.
 */
export function storedPng(width: number, height: number, grey = 128): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3, grey);
  row[0] = 0; // filter: none
  const rows = Buffer.alloc(row.length * height, row);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(rows, { level: 0 })), pngChunk('IEND', new Uint8Array(0))]);
}

/** `png` with an ancillary chunk of `bytes` zeros before its IEND: decoders skip it, but it is in the file. */
export function pngWithFiller(png: Buffer, bytes: number): Buffer {
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), pngChunk('zzZz', Buffer.alloc(bytes)), png.subarray(iend)]);
}

/** A PNG header claiming width x height greyscale pixels, with a few rows of real data. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = deflateRawSync(Buffer.alloc(Math.min(height, 4) * (width + 1)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', new Uint8Array(0))]);
}

/** A baseline TIFF of `pages` greyscale pages, each width x height, uncompressed, pixel data shared. */
export function tiffOf(width: number, height: number, pages = 1): Buffer {
  const entries = 9;
  const ifdSize = 2 + entries * 12 + 4;
  const pixels = Math.min(width * height, 4096); // the data present; the header may claim more
  const dataAt = 8;
  const firstIfd = dataAt + pixels + (pixels % 2);
  const out = Buffer.alloc(firstIfd + pages * ifdSize);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(firstIfd, 4);
  for (let p = 0; p < pages; p++) {
    let at = firstIfd + p * ifdSize;
    out.writeUInt16LE(entries, at);
    at += 2;
    const tag = (id: number, type: number, value: number) => {
      out.writeUInt16LE(id, at);
      out.writeUInt16LE(type, at + 2);
      out.writeUInt32LE(1, at + 4);
      if (type === 3) out.writeUInt16LE(value, at + 8);
      else out.writeUInt32LE(value, at + 8);
      at += 12;
    };
    tag(256, 4, width);
    tag(257, 4, height);
    tag(258, 3, 8);
    tag(259, 3, 1);
    tag(262, 3, 1);
    tag(273, 4, dataAt);
    tag(277, 3, 1);
    tag(278, 4, height);
    tag(279, 4, width * height);
    out.writeUInt32LE(p + 1 < pages ? firstIfd + (p + 1) * ifdSize : 0, at);
  }
  return out;
}

/** A JPEG-shaped file with `scans` start-of-scan segments: what a many-scan progressive JPEG looks like to a marker walk. */
export function manyScanJpeg(scans: number): Buffer {
  const sos = Buffer.from([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), ...Array.from({ length: scans }, () => sos), Buffer.from([0xff, 0xd9])]);
}
