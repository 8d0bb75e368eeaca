import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeNpy, NpyError, parseNpy, readNpy } from '../../src/io/npy.js';
import { writeNpy } from '../../src/node/npy-file.js';
import { fixturePath, readJson } from './fixtures.js';

const test = suite('npy');
const dir = fixturePath('images', 'npy');
const cases = readJson<{
  arrays: { file: string; dtype: string; shape: number[]; values: number[] }[];
  errors: { file: string; error: string }[];
}>(join(dir, 'cases.json'));

function throwsNpy(fn: () => unknown, ...parts: string[]): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, NpyError);
    for (const p of parts) assert.ok((err as Error).message.includes(p), `"${(err as Error).message}" lacks "${p}"`);
    return;
  }
  assert.unreachable(`expected an NpyError mentioning ${parts.join(', ')}`);
}

test('reads every dtype and format version numpy wrote', () => {
  assert.ok(cases.arrays.length >= 10);
  for (const c of cases.arrays) {
    const a = readNpy(join(dir, c.file));
    assert.is(a.dtype, c.dtype, c.file);
    assert.equal(a.shape, c.shape, c.file);
    assert.is(a.data.length, c.values.length, c.file);
    c.values.forEach((v, i) => assert.is(a.data[i], Math.fround(v), `${c.file}[${i}]`));
  }
});

test('rejects layouts it does not support, naming the file', () => {
  for (const c of cases.errors) throwsNpy(() => readNpy(join(dir, c.file)), c.file, c.error);
});

test('encodes float32 exactly as numpy does', () => {
  const original = readFileSync(join(dir, 'f4-v1.npy'));
  const a = parseNpy(original, 'f4-v1.npy');
  assert.ok(Buffer.from(encodeNpy(a.data, a.shape)).equals(original));
  const empty = readFileSync(join(dir, 'empty.npy'));
  assert.ok(Buffer.from(encodeNpy(new Float32Array(0), [0, 3])).equals(empty));
});

test('round-trips random shapes through a file, leaving no temporary behind', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rcae-npy-'));
  try {
    const shapes = [[], [1], [7], [3, 1, 5], [2, 3, 4, 5], [0, 4], [1, 1, 1, 1, 1, 2]];
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, () => (Math.random() - 0.5) * 10 ** (Math.random() * 20 - 10));
      const path = join(tmp, `a${shape.join('x')}.npy`);
      writeNpy(path, data, shape);
      const back = readNpy(path);
      assert.is(back.dtype, 'f4');
      assert.equal(back.shape, shape);
      assert.equal(Array.from(back.data), Array.from(data));
      const bytes = readFileSync(path);
      assert.is((10 + bytes.readUInt16LE(8)) % 64, 0, 'data starts on a 64-byte boundary');
    }
    assert.equal(readdirSync(tmp).filter((f) => f.includes('.tmp-')), []);
    throwsNpy(() => writeNpy(join(tmp, 'bad.npy'), new Float32Array(5), [2, 3]), 'bad.npy', 'does not describe 5 values');
    const unwritable = join(tmp, 'missing-dir', 'x.npy');
    throwsNpy(() => writeNpy(unwritable, new Float32Array(1), [1]), `${unwritable}: cannot write: its folder does not exist`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

function header(text: string, version = 1): Buffer {
  const h = Buffer.from(text, 'latin1');
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE(h.length);
  else len.writeUInt32LE(h.length);
  return Buffer.concat([pre, len, h]);
}

test('rejects corrupt and hostile headers with one clear line', () => {
  const good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  const body = Buffer.alloc(8);
  assert.is(parseNpy(Buffer.concat([header(good), body]), 'ok.npy').data.length, 2);
  throwsNpy(() => parseNpy(Buffer.from('not numpy at all'), 'x.npy'), 'x.npy', 'bad magic');
  throwsNpy(() => parseNpy(Buffer.concat([header(good, 9), body]), 'x.npy'), 'version 9');
  throwsNpy(() => parseNpy(header(good).subarray(0, 30), 'x.npy'), 'runs past the end');
  const huge = Buffer.concat([header(good, 2)]);
  huge.writeUInt32LE(0x7fffffff, 8);
  throwsNpy(() => parseNpy(huge, 'x.npy'), 'exceeds');
  throwsNpy(() => parseNpy(Buffer.concat([header(good), Buffer.alloc(4)]), 'x.npy'), 'needs more than the 4 data bytes');
  throwsNpy(() => parseNpy(Buffer.concat([header(good), Buffer.alloc(12)]), 'x.npy'), 'needs 8 data bytes, file has 12');
  const giant = "{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999, 999999999999999), }\n";
  throwsNpy(() => parseNpy(Buffer.concat([header(giant), body]), 'x.npy'), 'needs more than the 8 data bytes');
  const malformed = [
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 'non-negative integers'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", "expected ',' or ')'"],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': __import__('os'), }", 'unsupported value'],
    ["{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 'unsupported value'],
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 'unsupported value'],
    ["{'descr': '<f4', 'shape': (2,), }", 'fortran_order must be True or False'],
    ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "repeats key 'descr'"],
    ["{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", "unsupported dtype '<U4'"],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected ',' or '}'"],
  ];
  for (const [text, msg] of malformed) throwsNpy(() => parseNpy(Buffer.concat([header(text + '\n'), body]), 'h.npy'), 'h.npy', msg);
});

test('a missing file is an error naming it', () => {
  throwsNpy(() => readNpy('/nonexistent/dir/a.npy'), '/nonexistent/dir/a.npy', 'cannot read');
});

test.run();
