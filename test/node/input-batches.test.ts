import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorSetRequest } from '../../src/cli/error-set-options.js';
import { ChunkReader } from '../../src/io/chunk-reader.js';
import { readNpy } from '../../src/io/npy.js';
import { writeNpy } from '../../src/node/npy-file.js';
import { npyFileRows, npyStreamRows } from '../../src/node/npy-rows.js';
import { gatherSources } from '../../src/node/input-reader.js';
import { sampleBatches } from '../../src/node/input-batches.js';
import { tempDir } from '../helpers/paths.js';

const shape = { channels: 1, size: 2 };

async function collect(args: string[], batch: number, every = 1, start = 0) {
  const out: { inputs: string[]; values: number[] }[] = [];
  for await (const b of sampleBatches(gatherSources(args), shape, batch, every, start)) out.push({ inputs: b.inputs, values: Array.from(b.data) });
  return out;
}

test('npy samples come in order, batched, and every k-th when subsampling', async () => {
  const dir = tempDir();
  const a = join(dir, 'a.npy');
  const b = join(dir, 'b.npy');
  writeNpy(a, Float32Array.from({ length: 5 * 4 }, (_, i) => Math.floor(i / 4)), [5, 1, 2, 2]);
  writeNpy(b, Float32Array.from({ length: 2 * 4 }, (_, i) => 10 + Math.floor(i / 4)), [2, 1, 2, 2]);
  const all = await collect([a, b], 3);
  assert.equal(all.map((x) => x.inputs.length), [3, 3, 1]);
  assert.equal(all.flatMap((x) => x.values).filter((_, i) => i % 4 === 0), [0, 1, 2, 3, 4, 10, 11]);
  const every3 = await collect([a, b], 2, 3);
  // Counting runs across inputs: samples 0, 3 of a.npy and sample 1 of b.npy (index 6 overall).
  assert.equal(every3.flatMap((x) => x.values).filter((_, i) => i % 4 === 0), [0, 3, 11]);
  // Every 3rd from the 1st and from the 2nd: disjoint from the above and from each other, together all 7.
  const from1 = (await collect([a, b], 2, 3, 1)).flatMap((x) => x.values).filter((_, i) => i % 4 === 0);
  const from2 = (await collect([a, b], 2, 3, 2)).flatMap((x) => x.values).filter((_, i) => i % 4 === 0);
  assert.equal(from1, [1, 4]);
  assert.equal(from2, [2, 10]);
  assert.equal([0, 3, 11, ...from1, ...from2].sort((x, y) => x - y), [0, 1, 2, 3, 4, 10, 11]);
});

test('--start must lie below --every', () => {
  const request = (every: string, start: string) => errorSetRequest({ real: 'r.npy', every, start } as Parameters<typeof errorSetRequest>[0], false);
  assert.equal([request('10', '5').every, request('10', '5').start], [10, 5]);
  assert.throws(() => request('10', '10'), /--start must be below --every \(10\), got 10/);
  assert.throws(() => request('1', '1'), /--start must be below --every/);
});

test('a .npy of the wrong shape is named with what was expected', async () => {
  const dir = tempDir();
  const p = join(dir, 'bad.npy');
  writeNpy(p, new Float32Array(12), [1, 3, 2, 2]);
  try {
    await collect([p], 2);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.match((err as Error).message, /bad\.npy: expected float32 \[N,1,2,2\], got \[1,3,2,2\]/);
  }
});

test('each sample carries the size its image had before the resize; .npy samples have none', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'm'));
  const png = (width: number, height: number, path: string) => sharp(Buffer.alloc(width * height * 3, 90), { raw: { width, height, channels: 3 } }).png().toFile(path);
  await png(40, 24, join(dir, 'a.png'));
  await png(7, 300, join(dir, 'm', 'b.png'));
  await png(1, 1, join(dir, 'm', 'c.png'));
  execFileSync('tar', ['-cf', join(dir, 'm.tar'), '-C', dir, 'm/b.png', 'm/c.png']);
  const npy = join(dir, 't.npy');
  writeNpy(npy, new Float32Array(2 * 3 * 4), [2, 3, 2, 2]);
  const batches = [];
  for await (const b of sampleBatches(gatherSources([join(dir, 'a.png'), npy, join(dir, 'm.tar')]), { channels: 3, size: 2 }, 2)) batches.push(b);
  assert.equal(batches.map((b) => b.sizes.length), [2, 2, 1]);
  assert.equal(batches.map((b) => b.inputs.length), [2, 2, 1]);
  assert.equal(batches.flatMap((b) => b.sizes), [{ width: 40, height: 24 }, null, null, { width: 7, height: 300 }, { width: 1, height: 1 }]);
});

test('a .npy read a row at a time, from its file or from a stream, holds the rows readNpy reads; a short or long stream fails naming it', async () => {
  const dir = tempDir();
  const p = join(dir, 'rows.npy');
  const values = Float32Array.from({ length: 7 * 4 }, (_, i) => i / 3 - 2);
  writeNpy(p, values, [7, 1, 2, 2]);
  const whole = readNpy(p).data;
  const all = () => true;
  const fromFile: number[] = [];
  for await (const row of npyFileRows(p, shape, all)) fromFile.push(...row);
  assert.equal(fromFile, Array.from(whole));
  const stream = (bytes: Uint8Array) => new ChunkReader(Readable.from([Buffer.from(bytes.subarray(0, 37)), Buffer.from(bytes.subarray(37))])[Symbol.asyncIterator](), (m) => {
    throw new Error(m);
  });
  const bytes = readFileSync(p);
  let seen = 0;
  const odd = () => seen++ % 2 === 1;
  const fromStream: number[] = [];
  for await (const row of npyStreamRows(stream(bytes), 'stdin', shape, odd)) fromStream.push(...row);
  assert.equal(fromStream, Array.from(whole).filter((_, i) => Math.floor(i / 4) % 2 === 1));
  const drain = async (b: Uint8Array) => {
    for await (const _ of npyStreamRows(stream(b), 'stdin', shape, all)) void _;
  };
  await drain(bytes.subarray(0, bytes.length - 5)).then(() => assert.unreachable('short'), (err: Error) => assert.match(err.message, /^stdin: shape \[7,1,2,2\] needs 112 data bytes; the data ended inside sample 6$/));
  await drain(Buffer.concat([bytes, Buffer.alloc(4)])).then(() => assert.unreachable('long'), (err: Error) => assert.match(err.message, /^stdin: more data than the shape \[7,1,2,2\] takes$/));
});

test.run();
