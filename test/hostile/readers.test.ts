// Issue 11, classes 1, 2 and 7 at the readers: every hostile file is built here (build.ts) and each
// reader must refuse it with one line naming the file, in bounded time and memory, or read it right.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readThresholds } from '../../src/detect/thresholds-file.js';
import { decodeRgb8, ImageError } from '../../src/image/decode.js';
import { countJpegScans } from '../../src/image/jpeg-scans.js';
import { NpyError, readNpy } from '../../src/io/npy.js';
import { readTarEntries, TarError } from '../../src/io/tar.js';
import '../../src/node/node-platform.js';
import { parseCheckpoint, readCheckpoint } from '../../src/weights/checkpoint.js';
import { inflateRaw } from '../../src/weights/inflate.js';
import { unpickle } from '../../src/weights/pickle.js';
import { ZipArchive } from '../../src/weights/zip.js';
import { throwsFormat } from '../weights/helpers.js';
import { tempDir } from '../helpers/paths.js';
import { bytesOf, deflateBomb, manyScanJpeg, overlappingZip, pngClaiming, sharedStorageCheckpoint, tarGzOf, tarOf, tiffOf, torchZip, zeroStrideCheckpoint, zipOf } from './build.js';

const test = suite('hostile/readers');
const tmp = tempDir('rcae-hostile-');

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function oneLine(err: Error, path: string): void {
  assert.ok(err.message.startsWith(`${path}: `), `names the file: ${err.message}`);
  assert.not.match(err.message, /\n/);
}

// ---- class 1: memory bounded by the file ----

test('a zero-stride tensor of a 16-byte storage is refused before it expands to 1 GiB', () => {
  const bytes = zeroStrideCheckpoint(1);
  assert.ok(bytes.length < 2000);
  throwsFormat(() => parseCheckpoint(bytes, 'zero.pt'), /^zero\.pt: tensor views reach more than \d+ bytes by tensor w/);
});

test('many tensors viewing one storage are refused past twice the stored bytes; tied weights pass', () => {
  throwsFormat(() => parseCheckpoint(sharedStorageCheckpoint(64), 'shared.pt'), /tensor views reach more than/);
  const tied = parseCheckpoint(sharedStorageCheckpoint(2), 'tied.pt');
  assert.is(tied.tensors.size, 2);
  assert.is(tied.tensors.get('t1')!.toFloat32().length, 65536);
  // An expanded view of a small storage (torch's expand) still reads, in logical order.
  const storage = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
  const expanded = parseCheckpoint(torchZip([{ name: 'e', storage: '0', shape: [3, 4], strides: [1, 0] }], new Map([['0', storage]])), 'e.pt');
  assert.equal([...expanded.tensors.get('e')!.toFloat32()], [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
});

test('ZIP central records that overlap one compressed stream are refused', () => {
  const bytes = overlappingZip(6000);
  throwsFormat(() => ZipArchive.open(bytes, 'overlap.zip'), /^overlap\.zip: corrupt zip: entries .* overlap in the file/);
  throwsFormat(() => parseCheckpoint(overlappingZip(1), 'overlap.pt'), /overlap in the file/);
});

test('inflate memory follows the real output, and the archive has a running budget', () => {
  // A stream that claims 2 GiB but holds 1 KiB allocates about what it produces.
  const small = deflateRawSync(Buffer.alloc(1024, 7));
  const out = inflateRaw(small, 2 ** 31);
  assert.is(out.length, 1024);
  assert.ok(out.buffer.byteLength < 1 << 20, `allocated ${out.buffer.byteLength}`);
  // 100 MiB of zeros in 0.6 MiB: within the per-entry ratio, over the archive's 64 MiB budget.
  const bomb = deflateBomb(100 << 20);
  const zip = zipOf([{ name: 'archive/data.pkl', data: bytesOf(0x80, 2, '}', '.') }, { name: 'archive/data/0', data: new Uint8Array(0), stream: bomb, claimedSize: 100 << 20 }]);
  const archive = ZipArchive.open(zip, 'bomb.pt');
  const before = process.memoryUsage().rss;
  throwsFormat(() => archive.read('archive/data/0'), /^bomb\.pt: zip entry archive\/data\/0 would inflate the archive past 67108864 bytes/);
  assert.ok(process.memoryUsage().rss - before < 64 << 20, 'refused before allocating');
  // A stream that lies about its size stops at the declared size.
  const liar = zipOf([{ name: 'x', data: new Uint8Array(10), stream: deflateBomb(1 << 20), claimedSize: 10 }]);
  throwsFormat(() => ZipArchive.open(liar, 'liar.zip').read('x'), /does not inflate \(output exceeds the declared 10 bytes\)/);
});

test('character devices, FIFOs and directories are refused by every reader with one line naming them', async () => {
  const fifo = join(tmp, 'pipe.npy');
  execFileSync('mkfifo', [fifo]);
  for (const path of ['/dev/zero', fifo, tmp]) {
    const kind = path === tmp ? 'a directory' : path === fifo ? 'a FIFO' : 'a character device';
    const checks: [string, () => Promise<unknown>, new (...a: never[]) => Error][] = [
      ['model', () => readCheckpoint(path), Error],
      ['npy', async () => readNpy(path), NpyError],
      ['thresholds', async () => readThresholds(path), Error],
      ['image', () => decodeRgb8(path), ImageError],
      ['archive', async () => {
        for await (const _ of readTarEntries(path)) break;
      }, TarError],
    ];
    for (const [what, run, type] of checks) {
      const started = Date.now();
      const err = await rejection(run());
      assert.ok(err instanceof type, `${what} ${path}: ${err.constructor.name}: ${err.message}`);
      oneLine(err, path);
      assert.match(err.message, new RegExp(`is ${kind}, not a regular file`), `${what} ${path}`);
      assert.ok(Date.now() - started < 5000, `${what} ${path} took ${Date.now() - started} ms`);
    }
  }
});

// ---- class 2: decoder bounds ----

test('images whose decoding would cost far more than their size are refused, naming the file', async () => {
  const cases: [string, Buffer, RegExp][] = [
    ['tall.tiff', tiffOf(6, 9_999_999), /6x9999999 has a side longer than 16384/],
    ['wide.png', pngClaiming(20_000, 1), /20000x1 has a side longer than 16384/],
    ['pages.tiff', tiffOf(1, 1, 300), /300 pages is more than 256/],
    ['scans.jpg', manyScanJpeg(30_000), /JPEG has more than 100 scans/],
    ['huge.png', pngClaiming(16_000, 16_000), /pixel|limit/i],
  ];
  for (const [name, bytes, pattern] of cases) {
    const path = join(tmp, name);
    writeFileSync(path, bytes);
    const started = Date.now();
    const err = await rejection(decodeRgb8(path));
    assert.ok(err instanceof ImageError, `${name}: ${err.message}`);
    oneLine(err, path);
    assert.match(err.message, pattern, name);
    assert.ok(Date.now() - started < 5000, `${name} took ${Date.now() - started} ms`);
    // Inside an archive the member is named.
    const member = await rejection(decodeRgb8(bytes, `set.tar#${name}`));
    assert.ok(member.message.startsWith(`set.tar#${name}: `), member.message);
  }
});

test('a real progressive JPEG and a multi-page TIFF within the limits still decode', async () => {
  const rgb = Buffer.alloc(64 * 48 * 3, 90);
  const progressive = await sharp(rgb, { raw: { width: 64, height: 48, channels: 3 } }).jpeg({ progressive: true }).toBuffer();
  const scans = countJpegScans(progressive, 100)!;
  assert.ok(scans > 1 && scans <= 100, `${scans} scans`);
  assert.is((await decodeRgb8(progressive)).width, 64);
  const tiff = await decodeRgb8(tiffOf(4, 3, 5));
  assert.equal([tiff.width, tiff.height], [4, 3]);
  assert.is(countJpegScans(Buffer.from('not a jpeg'), 10), null);
});

// ---- class 7: format completeness ----

test('protocol 0 and 1 pickles read as Python wrote them', () => {
  // pickle.dumps({...}, protocol=0) and protocol=1 from CPython 3.
  const p0 = Buffer.from(
    '(dp0\nVa\np1\nI1\nsVbig\np2\nL1180591620717411303424L\nsVneg\np3\nI-5\nsVf\np4\nF1.5\nsVs\np5\nVx\\u000a\xe9\\u20ac\np6\nsVt\np7\nI01\nsVl\np8\n(lp9\nI1\naI2\nas.',
    'latin1',
  );
  const v0 = unpickle(p0, 'p0.pkl') as Map<string, unknown>;
  assert.equal([...v0], [['a', 1], ['big', 2n ** 70n], ['neg', -5], ['f', 1.5], ['s', 'x\né€'], ['t', true], ['l', [1, 2]]]);
  const p1 = Buffer.from('}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00fq\x02G\xc0\x02\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00sq\x03X\x02\x00\x00\x00hiq\x04X\x03\x00\x00\x00bigq\x05L1180591620717411303424L\nu.', 'latin1');
  const v1 = unpickle(p1, 'p1.pkl') as Map<string, unknown>;
  assert.equal([...v1], [['a', 1], ['f', -2.25], ['s', 'hi'], ['big', 2n ** 70n]]);
  const s = unpickle(Buffer.from("S'a\\'b\\n\\x41'\np0\ng0\n0F-inf\n0.", 'latin1'), 's.pkl');
  assert.is(s, "a'b\nA");
});

test('a string over the size limit is reported as too large, not as invalid UTF-8', () => {
  const n = 70 * 1024 * 1024;
  const bytes = Buffer.concat([Buffer.from([0x80, 4, 0x8d]), Buffer.from(new BigUint64Array([BigInt(n)]).buffer), Buffer.alloc(n, 0xff), Buffer.from('.')]);
  throwsFormat(() => unpickle(bytes, 'big.pkl'), /^big\.pkl: corrupt pickle: string of 73400320 bytes exceeds the limit of 67108864 at byte 11$/);
});

test('gzip trailers are checked: a wrong CRC-32 or size fails naming the archive', async () => {
  const png = await sharp(Buffer.alloc(12, 1), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();
  const good = tarGzOf([{ name: 'a.png', data: png }]);
  for (const [what, at] of [['CRC-32', good.length - 8], ['size', good.length - 4]] as const) {
    const bad = Buffer.from(good);
    bad[at] ^= 0x55;
    const path = join(tmp, `bad-${what}.tar.gz`);
    writeFileSync(path, bad);
    const err = await rejection((async () => {
      for await (const _ of readTarEntries(path)) void _;
    })());
    assert.ok(err instanceof TarError, `${what}: ${err.message}`);
    oneLine(err, path);
    assert.match(err.message, /incorrect (data check|length check)|cannot read/, what);
  }
  const truncated = join(tmp, 'truncated.tar.gz');
  writeFileSync(truncated, good.subarray(0, good.length - 6));
  const err = await rejection((async () => {
    for await (const _ of readTarEntries(truncated)) void _;
  })());
  assert.ok(err instanceof TarError, err.message);
  // The plain tar round-trips through the same reader.
  const plain = join(tmp, 'ok.tar');
  writeFileSync(plain, tarOf([{ name: 'a.png', data: png }]));
  const names: string[] = [];
  for await (const e of readTarEntries(plain)) names.push(e.name);
  assert.equal(names, ['a.png']);
});

test('a missing model names the file in one line', async () => {
  const err = await rejection(readCheckpoint(join(tmp, 'missing.pt')));
  oneLine(err, join(tmp, 'missing.pt'));
  assert.match(err.message, /no such file/);
});

test.run();
