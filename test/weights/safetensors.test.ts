import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readCheckpoint } from '../../src/weights/checkpoint.js';
import { WeightsFormatError } from '../../src/weights/format-error.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import { SAFETENSORS_MAX_HEADER, parseSafetensors, type TensorToWrite } from '../../src/weights/safetensors.js';
import { rejectsFormat, throwsFormat } from './helpers.js';
import { SEED, random } from '../helpers/random.js';

const test = suite('weights/safetensors');
const scratch = mkdtempSync(join(tmpdir(), 'rcae-safetensors-'));

/** A safetensors file from a header object and a data section, assembled by hand. */
function assemble(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declaredLength ?? BigInt(json.length));
  return new Uint8Array(Buffer.concat([prefix, json, data]));
}

test('round trip: random shapes (scalars, empty, odd sizes), unicode names and metadata', async () => {
  const rng = random(SEED);
  for (let round = 0; round < 20; round++) {
    const tensors: TensorToWrite[] = Array.from({ length: rng.int(1, 6) }, (_, i) => {
      const shape = Array.from({ length: rng.int(0, 4) }, () => rng.pick([0, 1, 2, 3, 7, 13]));
      const n = shape.reduce((a, b) => a * b, 1);
      return { name: `${rng.pick(['enc.', 'dëc.', 'fc_'])}${i}.weight`, shape, data: Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 1e3) };
    });
    const metadata: Record<string, string> = round % 2 ? { 'rcae.architecture': '{"w":2}', note: 'ünïcode ✓' } : {};
    const path = join(scratch, `round-${round}.safetensors`);
    await writeSafetensors(path, tensors, metadata);
    const bytes = readFileSync(path);
    assert.is(Number(bytes.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
    const back = parseSafetensors(bytes, path);
    assert.equal(back.metadata, metadata);
    assert.equal([...back.tensors.keys()], tensors.map((t) => t.name), `seed ${SEED} round ${round}`);
    for (const t of tensors) {
      const r = back.tensors.get(t.name)!;
      assert.is(r.dtype, 'f32');
      assert.equal(r.shape, t.shape);
      assert.equal(r.toFloat32(), t.data, `seed ${SEED} round ${round} ${t.name}`);
    }
    // readCheckpoint sees the same file the same way.
    assert.is((await readCheckpoint(path)).format, 'safetensors');
  }
});

test('writing is atomic: bad input writes nothing, a failed write leaves no temporary file', async () => {
  const path = join(scratch, 'atomic.safetensors');
  const bad = [{ name: 'a', shape: [2, 2], data: new Float32Array(3) }];
  let err: unknown;
  await writeSafetensors(path, bad).catch((e) => (err = e));
  assert.instance(err, WeightsFormatError);
  assert.match((err as Error).message, /tensor a: shape \[2,2\] does not hold 3 values/);
  await writeSafetensors(path, [{ name: 'x', shape: [1], data: new Float32Array(1) }, { name: 'x', shape: [1], data: new Float32Array(1) }]).catch((e) => (err = e));
  assert.match((err as Error).message, /cannot write tensor named "x"/);
  assert.not.ok(existsSync(path));
  const missingDir = join(scratch, 'no-such-dir', 'out.safetensors');
  err = undefined;
  await writeSafetensors(missingDir, [{ name: 'x', shape: [1], data: new Float32Array(1) }]).catch((e) => (err = e));
  assert.ok(err, 'writing into a missing directory fails');
  assert.equal(readdirSync(scratch).filter((f) => f.includes('.tmp-')), [], 'no temporary files left');
});

test('header validation: every malformed header is a one-line error naming the file', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /truncated safetensors file \(5 bytes\)/],
    ['header length beyond the limit', assemble({}, undefined, BigInt(SAFETENSORS_MAX_HEADER) + 1n), /exceeds the limit of 100000000/],
    ['header length beyond the file', assemble({}, undefined, 1000n), /truncated safetensors file \(header of 1000 bytes/],
    ['not JSON', (() => { const b = assemble({ a: 1 }); b[9] = 0x7b; b[10] = 0x7b; return b; })(), /header is not valid JSON/],
    ['a JSON array', assemble([1, 2]), /header is not a JSON object/],
    ['unknown dtype', assemble({ t: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor t: dtype "C64" is not one rcae reads/],
    ['negative dimension', assemble({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /tensor t: shape is not a list/],
    ['fractional dimension', assemble({ t: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32(1)), /tensor t: shape is not a list/],
    ['size disagrees with shape', assemble({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f32(1)), /data_offsets \[0,4\] do not hold \[2\] F32 \(8 bytes\)/],
    ['offsets reversed', assemble({ t: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32(1)), /do not hold/],
    ['overlap', assemble({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /tensor b: data starts at 4, expected 8/],
    ['gap', assemble({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /tensor a: data starts at 4, expected 0/],
    ['data beyond the tensors', assemble({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /data section is 8 bytes but the tensors cover 4/],
    ['data past the end', assemble({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /data section is 8 bytes but the tensors cover 16/],
    ['metadata not strings', assemble({ __metadata__: { a: 1 } }), /__metadata__ value a is not a string/],
  ];
  for (const [what, bytes, pattern] of cases) {
    const err = throwsFormat(() => parseSafetensors(bytes, 'w.safetensors'), pattern, what);
    assert.match(err.message, /^w\.safetensors: [^\n]+$/, what);
  }
});

test('F16, BF16, I64, BOOL and unaligned data sections decode', () => {
  // The header's length puts the data section at an odd offset: typed arrays cannot view it in place.
  const data = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x49, 0x40, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]);
  const header = {
    __metadata__: { pad: 'x' },
    h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
    l: { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
    q: { dtype: 'BOOL', shape: [2], data_offsets: [16, 18] },
  };
  const bytes = assemble(header, data);
  assert.is((bytes.length - data.length) % 2, 1);
  const file = parseSafetensors(bytes, 'mixed.safetensors');
  assert.equal([...file.tensors.get('h')!.toFloat32()], [1, -2]);
  assert.equal([...file.tensors.get('b')!.toFloat32()], [1, 3.140625]);
  assert.equal([...file.tensors.get('l')!.toFloat32()], [-2]);
  assert.equal([...file.tensors.get('q')!.toFloat32()], [1, 0]);
});

test('told apart from a legacy pickle even when the header length starts with the PROTO byte 0x80', async () => {
  const header = { __metadata__: { pad: '' }, t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } };
  header.__metadata__.pad = 'p'.repeat(0x80 - JSON.stringify(header).length);
  const bytes = assemble(header, new Uint8Array(4));
  assert.is(bytes[0], 0x80);
  const path = join(scratch, 'proto-byte.safetensors');
  writeFileSync(path, bytes);
  assert.is((await readCheckpoint(path)).format, 'safetensors');
  writeFileSync(path, bytes.subarray(0, 100));
  await rejectsFormat(readCheckpoint(path), /proto-byte\.safetensors: truncated safetensors file \(header of 128 bytes, file is 100\)/);
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
