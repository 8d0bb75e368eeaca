import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTarEntries, TarError, type TarEntry, type TarOptions } from '../../src/io/tar.js';
import { datasetMissing, datasetPath, fixturePath, readJson } from './fixtures.js';
import { requires } from '../helpers/skip.js';

const test = suite('tar');
const dir = fixturePath('images', 'archives');
const manifest = readJson<Record<string, { name: string; size: number; sha256: string }[]>>(join(dir, 'manifest.json'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(path: string, filter?: (name: string) => boolean, options?: TarOptions): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTarEntries(path, filter, options)) out.push(e);
  return out;
}

async function rejectsTar(promise: Promise<unknown>, ...parts: string[]): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, TarError, (err as Error).message);
    for (const p of parts) assert.ok((err as Error).message.includes(p), `"${(err as Error).message}" lacks "${p}"`);
    return;
  }
  assert.unreachable(`expected a TarError mentioning ${parts.join(', ')}`);
}

let tmp = '';
test.before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rcae-tar-'));
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('ustar, GNU long names (gzip) and pax names yield every regular file, in order, intact', async () => {
  for (const [archive, expected] of Object.entries(manifest)) {
    const entries = await collect(join(dir, archive));
    assert.equal(entries.map((e) => e.name), expected.map((e) => e.name), archive);
    entries.forEach((e, i) => {
      assert.is(e.data.length, expected[i].size, `${archive} ${e.name}`);
      assert.is(sha256(e.data), expected[i].sha256, `${archive} ${e.name}`);
    });
  }
  assert.ok(manifest['gnu.tar.gz'].some((e) => e.name.length > 100), 'a name longer than a ustar name field');
});

test('the filter skips entries without yielding them, and sees directories and links never', async () => {
  const seen: string[] = [];
  const entries = await collect(join(dir, 'pax.tar'), (name) => (seen.push(name), name.endsWith('.jpg')));
  assert.equal(entries.map((e) => e.name), manifest['pax.tar'].filter((e) => e.name.endsWith('.jpg')).map((e) => e.name));
  assert.equal(seen, manifest['pax.tar'].map((e) => e.name));
});

test('stopping early releases the archive', async () => {
  for await (const entry of readTarEntries(join(dir, 'gnu.tar.gz'))) {
    assert.is(entry.name, 'small.txt');
    break;
  }
});

test('entry size limit, truncation and corruption are errors naming the file', async () => {
  const path = join(dir, 'ustar.tar');
  await rejectsTar(collect(path, undefined, { maxEntryBytes: 512 }), path, 'dir/over-block.bin is 513 bytes (limit 512)');
  const bytes = readFileSync(path);
  const cut = join(tmp, 'cut.tar');
  writeFileSync(cut, bytes.subarray(0, 512 * 5 + 100)); // inside the data of dir/block.bin
  await rejectsTar(collect(cut), cut, 'truncated archive');
  writeFileSync(cut, bytes.subarray(0, 700)); // inside a header block
  await rejectsTar(collect(cut), cut, 'truncated archive');
  const flipped = Buffer.from(bytes);
  flipped[512 + 3] ^= 0x20; // a name byte of small.txt's header
  const bad = join(tmp, 'bad.tar');
  writeFileSync(bad, flipped);
  await rejectsTar(collect(bad), bad, 'checksum mismatch');
  const text = join(tmp, 'text.tar');
  writeFileSync(text, Buffer.alloc(1024, 'hello world '));
  await rejectsTar(collect(text), text, 'not a tar archive');
  const gz = readFileSync(join(dir, 'gnu.tar.gz'));
  const badGz = join(tmp, 'bad.tar.gz');
  writeFileSync(badGz, Buffer.concat([gz.subarray(0, 20), Buffer.alloc(200, 0x55)]));
  await rejectsTar(collect(badGz), badGz, 'cannot read');
  const cutGz = join(tmp, 'cut.tar.gz');
  writeFileSync(cutGz, gz.subarray(0, gz.length - 40));
  await rejectsTar(collect(cutGz), cutGz);
  await rejectsTar(collect(join(tmp, 'missing.tar')), 'missing.tar', 'cannot read');
});

test('gzip is recognised by content, and an archive may end without zero blocks', async () => {
  const plain = readFileSync(join(dir, 'ustar.tar'));
  const firstEntryEnd = 512 * 3; // dir/ header, then small.txt's header and its one data block
  const path = join(tmp, 'no-trailer.bin');
  writeFileSync(path, gzipSync(plain.subarray(0, firstEntryEnd)));
  const entries = await collect(path);
  assert.equal(entries.map((e) => e.name), ['small.txt']);
});

requires(test, datasetMissing('cifar10-test.tar.gz'), { ci: true })('reads the CIFAR-10 test archive (10,000 JPEGs)', async () => {
  const path = datasetPath('cifar10-test.tar.gz');
  let count = 0;
  let kept = 0;
  for await (const e of readTarEntries(path, (name) => (count++, name.endsWith('/0007.jpg')))) {
    assert.ok(/^test\/[a-z]+\/0007\.jpg$/.test(e.name), e.name);
    assert.equal([...e.data.subarray(0, 2)], [0xff, 0xd8], 'JPEG SOI marker');
    kept++;
  }
  assert.is(count, 10000);
  assert.is(kept, 10);
});

test.run();
