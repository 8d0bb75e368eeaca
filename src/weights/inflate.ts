// Raw DEFLATE (RFC 1951) decoding and CRC-32, in plain TypeScript so that the ZIP reader runs the
// same in Node and in a browser. The output grows with what the stream produces, up to the size the
// archive declares: a stream that would write past it is cut off there and fails, so nothing
// inflates without bound and memory follows the real output, not the claim.
// torch.save stores its entries uncompressed; this path serves archives re-packed by other tools.

import { RcaeError } from '../errors.js';

export class InflateError extends RcaeError {
  readonly kind = 'format';
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const MAX_BITS = 15;

/** A canonical Huffman code as counts per length and symbols in code order (as zlib's puff.c). */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function buildHuffman(lengths: ArrayLike<number>, n: number): Huffman {
  const counts = new Uint16Array(MAX_BITS + 1);
  for (let s = 0; s < n; s++) counts[lengths[s]]++;
  counts[0] = 0;
  let left = 1;
  for (let len = 1; len <= MAX_BITS; len++) {
    left = left * 2 - counts[len];
    if (left < 0) throw new InflateError('over-subscribed Huffman code');
  }
  const offsets = new Uint16Array(MAX_BITS + 1);
  for (let len = 1; len < MAX_BITS; len++) offsets[len + 1] = offsets[len] + counts[len];
  const symbols = new Uint16Array(n);
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) symbols[offsets[lengths[s]]++] = s;
  return { counts, symbols };
}

const fixedCodes = (() => {
  const lengths = new Uint8Array(288);
  lengths.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
  return { lit: buildHuffman(lengths, 288), dist: buildHuffman(new Uint8Array(30).fill(5), 30) };
})();

class BitReader {
  private pos = 0;
  private bitBuf = 0;
  private bitCount = 0;

  constructor(private readonly src: Uint8Array) {}

  bits(need: number): number {
    let buf = this.bitBuf;
    while (this.bitCount < need) {
      if (this.pos >= this.src.length) throw new InflateError('unexpected end of deflate stream');
      buf |= this.src[this.pos++] << this.bitCount;
      this.bitCount += 8;
    }
    this.bitBuf = buf >>> need;
    this.bitCount -= need;
    return buf & ((1 << need) - 1);
  }

  /** Drops the bits left in the current byte and returns the position of the next whole byte. */
  alignToByte(): number {
    this.bitBuf = 0;
    this.bitCount = 0;
    return this.pos;
  }

  skipTo(pos: number): void {
    this.pos = pos;
  }

  get source(): Uint8Array {
    return this.src;
  }

  decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= MAX_BITS; len++) {
      code |= this.bits(1);
      const count = h.counts[len];
      if (code - count < first) return h.symbols[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new InflateError('invalid Huffman code');
  }
}

/**
 * Inflates a raw DEFLATE stream into at most `maxBytes` bytes; returns the bytes produced. The output
 * buffer grows with what the stream actually produces, so memory follows the real output, never the
 * size an archive claims.
 */
export function inflateRaw(src: Uint8Array, maxBytes: number): Uint8Array {
  let out = new Uint8Array(Math.min(maxBytes, Math.max(1 << 16, src.length * 4)));
  const r = new BitReader(src);
  let n = 0;
  const overflow = (): never => {
    throw new InflateError(`output exceeds the declared ${maxBytes} bytes`);
  };
  /** Makes room for `more` bytes after the first n, or fails at the budget. */
  const reserve = (more: number): void => {
    if (n + more <= out.length) return;
    if (n + more > maxBytes) overflow();
    const grown = new Uint8Array(Math.min(maxBytes, Math.max(n + more, out.length * 2)));
    grown.set(out.subarray(0, n));
    out = grown;
  };
  let last = 0;
  while (!last) {
    last = r.bits(1);
    const type = r.bits(2);
    if (type === 0) {
      const p = r.alignToByte();
      if (p + 4 > src.length) throw new InflateError('unexpected end of deflate stream');
      const len = src[p] | (src[p + 1] << 8);
      if ((len ^ 0xffff) !== (src[p + 2] | (src[p + 3] << 8))) throw new InflateError('stored block length does not match its complement');
      if (p + 4 + len > src.length) throw new InflateError('unexpected end of deflate stream');
      reserve(len);
      out.set(src.subarray(p + 4, p + 4 + len), n);
      n += len;
      r.skipTo(p + 4 + len);
      continue;
    }
    if (type === 3) throw new InflateError('invalid block type 3');
    const { lit, dist } = type === 1 ? fixedCodes : dynamicCodes(r);
    for (;;) {
      const sym = r.decode(lit);
      if (sym < 256) {
        if (n >= out.length) reserve(1);
        out[n++] = sym;
      } else if (sym === 256) {
        break;
      } else {
        const li = sym - 257;
        if (li >= 29) throw new InflateError(`invalid length symbol ${sym}`);
        const length = LENGTH_BASE[li] + r.bits(LENGTH_EXTRA[li]);
        const di = r.decode(dist);
        if (di >= 30) throw new InflateError(`invalid distance symbol ${di}`);
        const distance = DIST_BASE[di] + r.bits(DIST_EXTRA[di]);
        if (distance > n) throw new InflateError(`distance ${distance} reaches before the start of the output`);
        if (n + length > out.length) reserve(length);
        for (let k = 0; k < length; k++, n++) out[n] = out[n - distance];
      }
    }
  }
  return out.subarray(0, n);
}

function dynamicCodes(r: BitReader): { lit: Huffman; dist: Huffman } {
  const nlen = r.bits(5) + 257;
  const ndist = r.bits(5) + 1;
  const ncode = r.bits(4) + 4;
  if (nlen > 286 || ndist > 30) throw new InflateError('too many length or distance codes');
  const lengths = new Uint8Array(nlen + ndist);
  const codeLengths = new Uint8Array(19);
  for (let i = 0; i < ncode; i++) codeLengths[CODE_LENGTH_ORDER[i]] = r.bits(3);
  const lencode = buildHuffman(codeLengths, 19);
  for (let i = 0; i < nlen + ndist; ) {
    const sym = r.decode(lencode);
    if (sym < 16) {
      lengths[i++] = sym;
      continue;
    }
    let repeat: number;
    let value = 0;
    if (sym === 16) {
      if (i === 0) throw new InflateError('repeat with no previous length');
      value = lengths[i - 1];
      repeat = 3 + r.bits(2);
    } else if (sym === 17) repeat = 3 + r.bits(3);
    else repeat = 11 + r.bits(7);
    if (i + repeat > nlen + ndist) throw new InflateError('code lengths repeat past their end');
    lengths.fill(value, i, i + repeat);
    i += repeat;
  }
  if (lengths[256] === 0) throw new InflateError('no end-of-block code');
  return { lit: buildHuffman(lengths.subarray(0, nlen), nlen), dist: buildHuffman(lengths.subarray(nlen), ndist) };
}

// CRC-32 (IEEE, reflected), eight bytes per step with eight tables ("slicing-by-8").
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) for (let s = 1; s < 8; s++) t[s * 256 + i] = (t[(s - 1) * 256 + i] >>> 8) ^ t[t[(s - 1) * 256 + i] & 0xff];
  return t;
})();

export function crc32(data: Uint8Array): number {
  const t = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ c;
    const b = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24);
    c =
      t[7 * 256 + (a & 0xff)] ^ t[6 * 256 + ((a >>> 8) & 0xff)] ^ t[5 * 256 + ((a >>> 16) & 0xff)] ^ t[4 * 256 + (a >>> 24)] ^
      t[3 * 256 + (b & 0xff)] ^ t[2 * 256 + ((b >>> 8) & 0xff)] ^ t[256 + ((b >>> 16) & 0xff)] ^ t[b >>> 24];
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
