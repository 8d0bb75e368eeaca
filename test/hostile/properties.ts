// The property every reader must hold on any input (issue 11, class 8): it returns a value, or it
// throws the project's typed error whose one-line message starts with the file's name; each case
// within a time and a memory bound. Inputs are structured lies (sizes, offsets, strides, counts,
// nesting) and random mutations of the valid fixtures. Shared by the `npm test` suite
// (fuzz.test.ts, about 14,000 cases) and `npm run fuzz` (fuzz-run.ts, 100,000+).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { parseThresholdsBytes, ThresholdsError } from '../../src/detect/thresholds.js';
import { decodeRgb8, ImageError } from '../../src/image/decode.js';
import { NpyError, parseNpy } from '../../src/io/npy.js';
import { readTarEntries, TarError } from '../../src/io/tar.js';
import { parseCheckpoint } from '../../src/weights/checkpoint.js';
import { WeightsFormatError } from '../../src/weights/format-error.js';
import { inflateRaw, InflateError } from '../../src/weights/inflate.js';
import { unpickle } from '../../src/weights/pickle.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';
import { ZipArchive } from '../../src/weights/zip.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { bytesOf, deflateBomb, npyOf, safetensorsOf, tarGzOf, tiffOf, torchZip, zipOf } from './build.js';

/** Per case: a reader that takes longer or grows the process past this has failed. */
export const CASE_LIMITS = { ms: 5000, rssBytes: 1 << 30 };

type ErrorClass = abstract new (...args: never[]) => Error;

/** Holds when `run` returns, or throws an `expected` error naming `source` in one line. */
async function holds(source: string, expected: ErrorClass, run: () => unknown): Promise<void> {
  const started = performance.now();
  try {
    const value = run();
    if (value instanceof Promise) await value;
  } catch (err) {
    if (!(err instanceof expected)) throw new Error(`${source}: threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? String(err)}`);
    if (!err.message.startsWith(`${source}: `) || err.message.includes('\n')) throw new Error(`error does not name ${source} in one line: ${JSON.stringify(err.message)}`);
  }
  const ms = performance.now() - started;
  if (ms > CASE_LIMITS.ms) throw new Error(`${source}: took ${ms.toFixed(0)} ms`);
  const rss = process.memoryUsage.rss();
  if (rss > CASE_LIMITS.rssBytes) throw new Error(`${source}: process reached ${rss} bytes`);
}

// ---- mutations of valid files ----

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

type Mutation = { kind: 'flip'; at: number; value: number } | { kind: 'u32'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; bytes: number[] } | { kind: 'repeat'; at: number; length: number; times: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat()) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(base: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(base);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = m.value;
    else if (m.kind === 'u32' && at + 4 <= b.length) b.writeUInt32LE(m.value >>> 0, at);
    else if (m.kind === 'cut') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'repeat') {
      const piece = b.subarray(at, at + m.length);
      b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => piece), b.subarray(at)]);
    }
  }
  return b;
}

const mutated = (bases: readonly Uint8Array[]) => fc.tuple(fc.constantFrom(...bases), fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([b, ms]) => mutate(b, ms));

/** A ZIP entry's bytes, for mutating the pickle inside a torch archive. */
function zipEntry(path: string, name: RegExp): Uint8Array {
  const zip = ZipArchive.open(readFileSync(path), path);
  return zip.read([...zip.entries.keys()].find((n) => name.test(n))!);
}

// ---- structured lies ----

const dim = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(2 ** 20, 2 ** 31, 2 ** 53 - 1, 3_000_000_000));
const DTYPES = ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'ByteStorage', 'BoolStorage', 'ShortStorage'];

const lyingTorchZip = fc
  .record({
    tensors: fc.array(fc.record({ rank: fc.integer({ min: 0, max: 4 }), shape: fc.array(dim, { minLength: 4, maxLength: 4 }), strides: fc.array(dim, { minLength: 4, maxLength: 4 }), offset: dim, storage: fc.integer({ min: 0, max: 2 }), type: fc.constantFrom(...DTYPES) }), { maxLength: 6 }),
    storageFloats: fc.array(fc.integer({ min: 0, max: 64 }), { minLength: 3, maxLength: 3 }),
    deflate: fc.boolean(),
  })
  .map(({ tensors, storageFloats, deflate }) =>
    torchZip(
      tensors.map((t, i) => ({ name: `t${i}`, storage: String(t.storage), shape: t.shape.slice(0, t.rank), strides: t.strides.slice(0, t.rank), offset: t.offset, type: t.type })),
      new Map(storageFloats.map((n, k) => [String(k), new Uint8Array(n * 4)])),
      { deflate },
    ),
  );

const OPCODES = [...'(.0124FGIJKLMNPQRSTUVXabcdeghjklopqrstu}])'].map((c) => c.charCodeAt(0)).concat([0x80, 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96]);

/** Opcodes with arguments of lying lengths: the unpickler's bounds, not its happy path. */
const opcodeSoup = fc
  .array(fc.tuple(fc.constantFrom(...OPCODES), fc.oneof(fc.constant(''), fc.constantFrom('1\n', '-7\n', "'a'\n", 'torch\nFloatStorage\n', 'x\n'), fc.uint8Array({ maxLength: 9 }).map((b) => Buffer.from(b).toString('latin1')))), { maxLength: 60 })
  .map((ops) => bytesOf(0x80, 2, ...ops.flatMap(([op, arg]) => [op, arg]), '.'));

const lyingSafetensors = fc
  .record({
    entries: fc.array(fc.record({ dtype: fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'X9'), shape: fc.array(dim, { maxLength: 4 }), begin: dim, end: dim }), { maxLength: 5 }),
    data: fc.integer({ min: 0, max: 256 }),
    meta: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())),
  })
  .map(({ entries, data, meta }) => {
    const header: Record<string, unknown> = { __metadata__: meta };
    entries.forEach((e, i) => (header[`t${i}`] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] }));
    return safetensorsOf(header, new Uint8Array(data));
  });

const lyingNpy = fc
  .record({
    descr: fc.constantFrom('<f4', '<f2', '<f8', '|u1', '<i8', '>f4', '|b1', '<c8', 'O', '<f4\'}'),
    fortran: fc.constantFrom('False', 'True', '0'),
    shape: fc.array(dim, { maxLength: 5 }),
    data: fc.integer({ min: 0, max: 512 }),
    version: fc.constantFrom(1, 2, 3),
  })
  .map(({ descr, fortran, shape, data, version }) => npyOf(`{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`, new Uint8Array(data), version));

/** A deflate stream: random bits, or a valid one mutated, inflated into a random declared size. */
const deflateCase = fc.tuple(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated([deflateRawSync(Buffer.from('rcae '.repeat(300) + 'weights')), deflateBomb(1 << 20)])), fc.oneof(fc.integer({ min: 0, max: 1 << 16 }), fc.constant(2 ** 31)));

// ---- the properties, by reader ----

export interface ReaderProperty {
  name: string;
  /** Cases run by `npm test`; `npm run fuzz` multiplies them. */
  runs: number;
  /** Each reader has its own input type; the runner only needs to run it. */
  property: () => fc.IAsyncProperty<any>;
}

function torchFixtures(): Uint8Array[] {
  return ['dtypes.pt', 'views.pt', 'module.pt', 'malicious.pt'].map((f) => readFileSync(fixture('weights', f)));
}

export function readerProperties(): ReaderProperty[] {
  const torch = torchFixtures();
  const pickles = ['dtypes.pt', 'views.pt', 'module.pt', 'malicious.pt'].map((f) => zipEntry(fixture('weights', f), /data\.pkl$/));
  const safetensors = readFileSync(fixture('weights', 'reference.safetensors'));
  const npys = [readFileSync(fixture('images', 'normalize-u8.npy')), npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(24), 2)];
  const thresholds = readFileSync(join(repoRoot, 'models', 'default.thresholds.json'));
  const tars = [readFileSync(fixture('images', 'archives', 'ustar.tar')), readFileSync(fixture('images', 'archives', 'gnu.tar.gz')), tarGzOf([{ name: 'a.png', data: new Uint8Array(10) }])];
  const images = [tiffOf(3, 2), tiffOf(2, 2, 3), pngBytes(), gifBytes()];
  const work = mkdtempSync(join(tmpdir(), 'rcae-fuzz-'));
  let n = 0;
  const sync = (name: string, runs: number, arb: fc.Arbitrary<Uint8Array>, expected: ErrorClass, read: (b: Uint8Array, source: string) => unknown): ReaderProperty => ({
    name,
    runs,
    property: () => fc.asyncProperty(arb, (bytes) => holds(name, expected, () => read(bytes, name))),
  });
  return [
    sync('pickle', 2500, fc.oneof(opcodeSoup, mutated(pickles)), WeightsFormatError, (b, s) => unpickle(b, s)),
    sync('checkpoint-mutated', 2000, mutated(torch), WeightsFormatError, (b, s) => readAll(parseCheckpoint(b, s))),
    sync('checkpoint-pickle', 1500, fc.tuple(fc.constantFrom(...torch), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => repackWithPickle(b, ms)), WeightsFormatError, (b, s) => readAll(parseCheckpoint(b, s))),
    sync('checkpoint-lies', 1200, lyingTorchZip, WeightsFormatError, (b, s) => readAll(parseCheckpoint(b, s))),
    sync('zip', 800, fc.oneof(mutated([readFileSync(fixture('weights', 'python.zip'))]), fc.uint8Array({ maxLength: 300 }).map((b) => zipOf([{ name: 'x', data: b, deflate: true }]))), WeightsFormatError, (b, s) => {
      const zip = ZipArchive.open(b, s);
      for (const name of zip.entries.keys()) zip.read(name);
    }),
    sync('safetensors', 1500, fc.oneof(lyingSafetensors, mutated([safetensors])), WeightsFormatError, (b, s) => readAll({ tensors: parseSafetensors(b, s).tensors })),
    sync('npy', 1500, fc.oneof(lyingNpy, mutated(npys)), NpyError, (b, s) => parseNpy(b, s)),
    sync('thresholds', 1000, fc.oneof(mutated([thresholds]), fc.json().map((j) => Buffer.from(j))), ThresholdsError, (b, s) => parseThresholdsBytes(b, s)),
    {
      name: 'inflate',
      runs: 1000,
      property: () => fc.asyncProperty(deflateCase, ([bytes, size]) => holds('inflate', InflateError, () => {
        try {
          inflateRaw(bytes, size);
        } catch (err) {
          if (err instanceof InflateError) throw new InflateError(`inflate: ${err.message}`);
          throw err;
        }
      })),
    },
    {
      name: 'tar',
      runs: 600,
      property: () => fc.asyncProperty(mutated(tars), async (bytes) => {
        const path = join(work, `case-${n++}.tar.gz`);
        writeFileSync(path, bytes);
        try {
          await holds(path, TarError, async () => {
            for await (const _ of readTarEntries(path)) void _;
          });
        } finally {
          rmSync(path, { force: true });
        }
      }),
    },
    {
      name: 'image',
      runs: 800,
      property: () => fc.asyncProperty(mutated(images), (bytes) => holds('image', ImageError, () => decodeRgb8(Buffer.from(bytes), 'image'))),
    },
  ];
}

/** The archive again with its data.pkl mutated and every CRC right, so the mutation reaches the unpickler. */
function repackWithPickle(archive: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const zip = ZipArchive.open(archive, 'fixture');
  return zipOf([...zip.entries.keys()].map((name) => ({ name, data: name.endsWith('data.pkl') ? mutate(zip.read(name), mutations) : zip.read(name) })));
}

/** What inspect and a model load do with a checkpoint: every tensor converted to float32. */
function readAll(c: { tensors: ReadonlyMap<string, { toFloat32(): Float32Array }> }): void {
  for (const t of c.tensors.values()) t.toFloat32();
}

/** A 3x2 RGB PNG, written here from the specification (zlib stream, CRC-checked chunks). */
function pngBytes(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.from([0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
  // zlib header + one stored block of two rows (filter byte 0, then 9 bytes each) + Adler-32.
  const raw = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  let a = 1;
  let b = 0;
  for (const x of raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((b << 16) | a) >>> 0);
  const idat = Buffer.concat([Buffer.from([0x78, 0x01, 0x01, raw.length, 0, ~raw.length & 0xff, 0xff]), raw, adler]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A 1x1 GIF89a. */
function gifBytes(): Buffer {
  return Buffer.from('47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b', 'hex');
}

export interface FuzzResult {
  name: string;
  runs: number;
  ms: number;
  failed: string | null;
}

/** Runs every reader's property `scale` times its base count with `seed`; never throws. */
export async function runReaderProperties(seed: number, scale: number, only?: (name: string) => boolean): Promise<FuzzResult[]> {
  const results: FuzzResult[] = [];
  for (const p of readerProperties()) {
    if (only && !only(p.name)) continue;
    const runs = Math.round(p.runs * scale);
    const started = performance.now();
    const details = await fc.check(p.property(), { seed, numRuns: runs, endOnFailure: true });
    const failed = details.failed ? `seed ${details.seed} path ${details.counterexamplePath}: ${String((details.errorInstance as Error)?.message ?? details.errorInstance).slice(0, 400)}` : null;
    results.push({ name: p.name, runs: details.numRuns, ms: performance.now() - started, failed });
  }
  return results;
}
