import { constants, crc32 as zlibCrc32, deflateRawSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32, inflateRaw, InflateError } from '../../src/weights/inflate.js';
import { SEED, random } from '../helpers/random.js';

const test = suite('weights/inflate');

function sample(rng: ReturnType<typeof random>): Uint8Array {
  const size = rng.pick([0, 1, rng.int(2, 300), rng.int(1000, 200_000)]);
  const alphabet = rng.int(1, 256);
  // Runs, repeats at odd distances and noise, so every block type and length/distance code appears.
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const r = rng.next();
    out[i] = r < 0.3 && i > 0 ? out[i - 1] : r < 0.6 && i > 300 ? out[i - rng.int(1, 300)] : rng.int(0, alphabet - 1);
  }
  return out;
}

test('inflates what zlib deflates, at every level and strategy, into exactly the declared size', () => {
  const rng = random(SEED);
  const strategies = [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FILTERED];
  for (let i = 0; i < 40; i++) {
    const data = sample(rng);
    const level = rng.int(0, 9);
    const strategy = rng.pick(strategies);
    const packed = deflateRawSync(data, { level, strategy });
    const out = inflateRaw(packed, data.length);
    assert.ok(Buffer.from(out).equals(Buffer.from(data)), `seed ${SEED} case ${i}: ${data.length} bytes, level ${level}, strategy ${strategy}`);
  }
});

test('a stream longer than declared stops at the declared size; a cut or corrupt stream fails', () => {
  const rng = random(SEED + 1);
  const data = new Uint8Array(5000).map(() => rng.int(0, 3));
  const packed = deflateRawSync(data);
  assert.throws(() => inflateRaw(packed, 4999), (e: Error) => e instanceof InflateError && /exceeds the declared 4999 bytes/.test(e.message));
  assert.throws(() => inflateRaw(packed.subarray(0, packed.length >> 1), 5000), (e: Error) => e instanceof InflateError && /unexpected end/.test(e.message));
  assert.throws(() => inflateRaw(Uint8Array.of(0b111), 10), /invalid block type 3/);
  // Garbage after the first byte: some code, length or distance that no valid stream holds.
  assert.throws(() => inflateRaw(deflateRawSync(Buffer.from('a')).fill(0xff, 1), 100), (e: Error) => e instanceof InflateError);
});

test('crc32 equals zlib on random data of every length class', () => {
  const rng = random(SEED + 2);
  for (let i = 0; i < 30; i++) {
    const data = new Uint8Array(rng.pick([0, 1, 7, 8, 9, rng.int(10, 100_000)])).map(() => rng.int(0, 255));
    assert.is(crc32(data), zlibCrc32(data), `seed ${SEED} case ${i}`);
  }
});

test.run();
