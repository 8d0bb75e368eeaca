// Shared by the weights tests: fixture paths, what torch saw in them (expected.json, written by
// tools/make_weight_fixtures.py) and an independent ZIP writer.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import * as assert from 'uvu/assert';
import { WeightsFormatError } from '../../src/weights/format-error.js';

// Compiled tests live in dist/test/weights; the fixtures stay in the source tree.
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'weights');

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

export interface TensorBits {
  shape: number[];
  bits: number[];
}

export interface Expected {
  width: number;
  latent: number;
  sentinel: string;
  plain: Record<string, { shape: number[]; digest: [number, number] }>;
  dtypes: Record<string, TensorBits>;
  views: Record<string, TensorBits>;
  views_strides: Record<string, number[]>;
  malicious: Record<string, TensorBits>;
  safetensors: Record<string, TensorBits>;
  python_zip: Record<string, string>;
}

export const expected: Expected = JSON.parse(readFileSync(fixture('expected.json'), 'utf8'));

/** Same order-sensitive digest as make_weight_fixtures.py: sum and (i % 13 + 1)-weighted sum. */
export function digest(values: Float32Array): [number, number] {
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    weighted += values[i] * ((i % 13) + 1);
  }
  return [sum, weighted];
}

/** Compares float32 values with torch's, bit for bit (any NaN matches any NaN). */
export function assertBits(actual: Float32Array, bits: number[], what: string): void {
  assert.is(actual.length, bits.length, `${what}: element count`);
  const want = new Float32Array(new Uint32Array(bits).buffer);
  const got = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  for (let i = 0; i < bits.length; i++) {
    if (Number.isNaN(want[i]) && Number.isNaN(actual[i])) continue;
    if (got[i] !== bits[i]) assert.unreachable(`${what}[${i}]: got ${actual[i]} (0x${got[i].toString(16)}), torch has ${want[i]} (0x${bits[i].toString(16)})`);
  }
}

/** Runs `fn`, which must throw a WeightsFormatError whose message matches. */
export function throwsFormat(fn: () => unknown, pattern: RegExp, what = 'error'): WeightsFormatError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof WeightsFormatError)) throw new Error(`${what}: expected a WeightsFormatError, got ${(err as Error).stack ?? String(err)}`);
    assert.match(err.message, pattern, `${what}: ${err.message}`);
    return err;
  }
  throw new assert.Assertion({ message: `${what}: expected a WeightsFormatError matching ${pattern}`, operator: 'throws', expects: pattern, actual: 'no error' });
}

export async function rejectsFormat(p: Promise<unknown>, pattern: RegExp, what = 'error'): Promise<WeightsFormatError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  return throwsFormat(() => {
    if (caught === undefined) return;
    throw caught;
  }, pattern, what);
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/**
 * Writes a ZIP archive from the APPNOTE layout, independently of the reader under test. With
 * zip64, the central directory holds 0xffffffff placeholders and the real sizes and offsets in
 * zip64 extra fields, and a zip64 end record with its locator precedes the classic end record.
 */
export function buildZip(entries: ZipInput[], options: { zip64?: boolean; comment?: string } = {}): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.deflate ? 20 : 10, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(e.data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, body);

    const extra = Buffer.alloc(options.zip64 ? 28 : 0);
    if (options.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(options.zip64 ? 45 : 20, 6);
    c.writeUInt16LE(e.deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(options.zip64 ? 0xffffffff : body.length, 20);
    c.writeUInt32LE(options.zip64 ? 0xffffffff : e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(options.zip64 ? 0xffffffff : offset, 42);
    central.push(c, name, extra);
    offset += local.length + name.length + body.length;
  }
  const dirOffset = offset;
  const dirSize = central.reduce((n, b) => n + b.length, 0);
  const tail: Buffer[] = [];
  if (options.zip64) {
    const end64 = Buffer.alloc(56);
    end64.writeUInt32LE(0x06064b50, 0);
    end64.writeBigUInt64LE(44n, 4);
    end64.writeUInt16LE(45, 12);
    end64.writeUInt16LE(45, 14);
    end64.writeBigUInt64LE(BigInt(entries.length), 24);
    end64.writeBigUInt64LE(BigInt(entries.length), 32);
    end64.writeBigUInt64LE(BigInt(dirSize), 40);
    end64.writeBigUInt64LE(BigInt(dirOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(dirOffset + dirSize), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(end64, locator);
  }
  const comment = Buffer.from(options.comment ?? '', 'utf8');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(options.zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(options.zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(options.zip64 ? 0xffffffff : dirSize, 12);
  end.writeUInt32LE(options.zip64 ? 0xffffffff : dirOffset, 16);
  end.writeUInt16LE(comment.length, 20);
  return new Uint8Array(Buffer.concat([...parts, ...central, ...tail, end, comment]));
}
