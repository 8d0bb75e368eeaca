import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ZIP_LIMITS, ZipArchive } from '../../src/weights/zip.js';
import { buildZip, expected, fixture, throwsFormat, type ZipInput } from './helpers.js';
import { SEED, random } from '../helpers/random.js';

const test = suite('weights/zip');

function randomEntries(rng: ReturnType<typeof random>): ZipInput[] {
  const count = rng.int(1, 6);
  return Array.from({ length: count }, (_, i) => {
    const size = rng.pick([0, 1, rng.int(2, 100), rng.int(1000, 70000)]);
    // Half compressible text, half noise, so deflate sees both.
    const data = new Uint8Array(size).map((_, j) => (rng.next() < 0.5 ? 97 + (j % 7) : rng.int(0, 255)));
    return { name: `${rng.pick(['archive/data/', 'x/', ''])}${i}-${rng.pick(['a', 'ü', 'data.pkl'])}`, data, deflate: rng.next() < 0.5 };
  });
}

test('reads stored, deflated and zip64 entries written by an independent writer', () => {
  const rng = random(SEED);
  for (let round = 0; round < 30; round++) {
    const entries = randomEntries(rng);
    const zip64 = round % 2 === 1;
    const archive = ZipArchive.open(buildZip(entries, { zip64, comment: round % 3 === 0 ? 'a comment' : '' }), 'built.zip');
    assert.equal([...archive.entries.keys()], entries.map((e) => e.name), `seed ${SEED} round ${round}`);
    for (const e of entries) {
      const entry = archive.entries.get(e.name);
      assert.is(entry?.method, e.deflate ? 'deflate' : 'stored');
      assert.ok(Buffer.from(archive.read(e.name)).equals(Buffer.from(e.data)), `seed ${SEED} round ${round} entry ${e.name} zip64=${zip64}`);
    }
  }
});

test("reads Python zipfile's archive (deflate, stored, empty entry, zip64 local headers, comment)", () => {
  const archive = ZipArchive.open(readFileSync(fixture('python.zip')), 'python.zip');
  assert.equal([...archive.entries.keys()].sort(), Object.keys(expected.python_zip).sort());
  for (const [name, sha] of Object.entries(expected.python_zip)) {
    assert.is(createHash('sha256').update(archive.read(name)).digest('hex'), sha, name);
  }
});

test("lists torch.save's entries and reads them without copying stored data", () => {
  const bytes = readFileSync(fixture('plain.pt'));
  const archive = ZipArchive.open(bytes, 'plain.pt');
  assert.ok(archive.has('plain/data.pkl'));
  assert.ok(archive.has('plain/version'));
  const data = archive.read('plain/data/0');
  assert.is(data.buffer, bytes.buffer, 'stored entries are views into the file');
});

test('truncation anywhere gives a one-line error naming the file', () => {
  const bytes = buildZip([{ name: 'a/data.pkl', data: new Uint8Array(300).fill(7) }, { name: 'a/data/0', data: new Uint8Array(64).fill(1), deflate: true }]);
  for (let cut = 0; cut < bytes.length; cut += 7) {
    const err = throwsFormat(() => ZipArchive.open(bytes.subarray(0, cut), 'model.ckpt'), /^model\.ckpt: (truncated zip|not a zip archive|corrupt zip)/, `cut at ${cut}`);
    assert.not.match(err.message, /\n/);
  }
});

test('a central directory pointing past the end of the file is reported with both offsets', () => {
  const bytes = Buffer.from(buildZip([{ name: 'x', data: new Uint8Array(10) }]));
  bytes.writeUInt32LE(1234, bytes.length - 6);
  throwsFormat(() => ZipArchive.open(bytes, 'model.ckpt'), /^model\.ckpt: truncated zip \(central directory at 1234 beyond end of file/);
});

function patched(edit: (b: Buffer, dir: number) => void, entries: ZipInput[] = [{ name: 'x', data: new Uint8Array(40).fill(3) }]): Buffer {
  const b = Buffer.from(buildZip(entries));
  edit(b, b.readUInt32LE(b.length - 6));
  return b;
}

test('rejects corrupt or hostile headers', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['bad central signature', patched((b, dir) => b.writeUInt32LE(0x12345678, dir)), /bad central directory entry signature/],
    ['bad local signature', patched((b) => b.writeUInt32LE(0, 0)), /bad local header signature/],
    ['encrypted', patched((b, dir) => b.writeUInt16LE(1, dir + 8)), /is encrypted/],
    ['unknown method', patched((b, dir) => b.writeUInt16LE(12, dir + 10)), /compression method 12/],
    ['entry overruns the directory', patched((b, dir) => b.writeUInt32LE(1 << 20, dir + 20)), /overruns the central directory/],
    ['stored size disagrees', patched((b, dir) => b.writeUInt32LE(41, dir + 24)), /stored entry x has size 41/],
    ['local header beyond the file', patched((b, dir) => b.writeUInt32LE(1 << 30, dir + 42)), /truncated zip \(local header of x at 1073741824/],
    ['too many entries', patched((b) => b.writeUInt16LE(0xfffe, b.length - 12)), /cannot fit|more than the limit/],
    ['CRC mismatch', patched((b) => (b[40] ^= 1)), /CRC mismatch in entry x/],
    ['multi-disk', patched((b) => b.writeUInt16LE(1, b.length - 18)), /multi-disk/],
  ];
  for (const [what, bytes, pattern] of cases) {
    throwsFormat(() => ZipArchive.open(bytes, 'bad.zip').read('x'), pattern, what);
  }
});

test('rejects duplicate names, overlong names and implausible deflate ratios', () => {
  throwsFormat(() => ZipArchive.open(buildZip([{ name: 'x', data: new Uint8Array(1) }, { name: 'x', data: new Uint8Array(1) }]), 'dup.zip'), /duplicate entry x/);
  const long = 'n'.repeat(ZIP_LIMITS.maxNameLength + 1);
  throwsFormat(() => ZipArchive.open(buildZip([{ name: long, data: new Uint8Array(1) }]), 'long.zip'), /longer than 4096/);
  const bomb = patched((b, dir) => b.writeUInt32LE(0xfffffff0, dir + 24), [{ name: 'x', data: new Uint8Array(4000), deflate: true }]);
  throwsFormat(() => ZipArchive.open(bomb, 'bomb.zip'), /claims 4294967280 bytes from \d+ compressed bytes/);
  // A deflate stream longer than declared is cut off at the declared size, never inflated in full.
  const lying = patched((b, dir) => b.writeUInt32LE(100, dir + 24), [{ name: 'x', data: new Uint8Array(4000).fill(1), deflate: true }]);
  throwsFormat(() => ZipArchive.open(lying, 'lying.zip').read('x'), /does not inflate|inflates to/);
});

test('the entry count limit applies to zip64 archives too', () => {
  const bytes = Buffer.from(buildZip([{ name: 'x', data: new Uint8Array(4) }], { zip64: true }));
  const locator = bytes.length - 22 - 20;
  const end64 = Number(bytes.readBigUInt64LE(locator + 8));
  bytes.writeBigUInt64LE(BigInt(ZIP_LIMITS.maxEntries + 1), end64 + 32);
  throwsFormat(() => ZipArchive.open(bytes, 'many.zip'), /more than the limit of 262144/);
});

test.run();
