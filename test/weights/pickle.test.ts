import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InertObject, PyGlobal, PyTuple, UnknownGlobal, unpickle, type PyValue } from '../../src/weights/pickle.js';
import { unpickleTorch } from '../../src/weights/torch-pickle.js';
import { fixture, throwsFormat } from './helpers.js';

const test = suite('weights/pickle');

/** Assembles a pickle from opcode bytes, raw latin1 text and byte arrays. */
function pk(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const bytes: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') bytes.push(p);
    else if (typeof p === 'string') for (const ch of p) bytes.push(ch.charCodeAt(0));
    else bytes.push(...p);
  }
  return new Uint8Array(bytes);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

/** BINUNICODE of an ASCII string. */
function str(s: string): Uint8Array {
  return pk('X', u32(s.length), s);
}

/** The JSON form make_weight_fixtures.py writes for a Python value. */
function tagged(v: PyValue): unknown {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number') return { int: Object.is(v, -0) ? '-0' : String(v) };
  if (typeof v === 'string') return { str: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { list: v.map(tagged) };
  if (v instanceof PyTuple) return { tuple: v.items.map(tagged) };
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [tagged(k), tagged(x)]) };
  if (v instanceof Set) return { set: [...v].map(tagged) };
  if (v instanceof InertObject && v.callable instanceof PyGlobal) return { inert: v.callable.qualifiedName, state: tagged(v.state ?? null) };
  throw new Error(`unexpected value ${String(v)}`);
}

/** Python floats and ints both arrive as numbers; compare through the tag Python chose. */
function sameValue(want: unknown, got: unknown): boolean {
  if (want !== null && typeof want === 'object' && 'float' in want) {
    const f = (want as { float: number | string }).float;
    const g = got as { int?: string };
    const n = Number(g?.int);
    if (f === '-0') return Object.is(n, -0);
    if (f === 'inf') return n === Infinity;
    if (f === '-inf') return n === -Infinity;
    return n === f;
  }
  if (Array.isArray(want)) return Array.isArray(got) && want.length === got.length && want.every((w, i) => sameValue(w, got[i]));
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return false;
    const keys = Object.keys(want);
    return keys.length === Object.keys(got).length && keys.every((k) => sameValue((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k]));
  }
  return want === got;
}

test('rebuilds random Python data pickled by CPython at protocols 2 to 5', () => {
  const cases: { protocol: number; pickle: string; value: unknown }[] = JSON.parse(readFileSync(fixture('pickles.json'), 'utf8'));
  assert.ok(cases.length >= 100);
  for (const [i, c] of cases.entries()) {
    const got = tagged(unpickle(Buffer.from(c.pickle, 'base64'), `case ${i}`));
    if (!sameValue(c.value, got)) assert.equal(got, c.value, `case ${i} (protocol ${c.protocol})`);
  }
});

test('a shared object stays shared (memo GET returns the same object)', () => {
  // [l, l] where l = []: EMPTY_LIST BINPUT 0 ... BINGET 0
  const v = unpickle(pk(0x80, 2, ']', 'q', 0, '(', ']', 'q', 1, 'h', 1, 'e', '.'), 'shared');
  assert.ok(Array.isArray(v) && v.length === 2 && v[0] === v[1]);
});

test('os.system via __reduce__ becomes an inert object holding its arguments, and nothing runs', () => {
  const sentinel = '/tmp/rcae-pickle-test-pwned';
  const bytes = pk(0x80, 2, 'c', 'posix\nsystem\n', str(`touch ${sentinel}`), 0x85, 'R', '.');
  const v = unpickle(bytes, 'evil.pkl');
  assert.instance(v, InertObject);
  const obj = v as InertObject;
  assert.instance(obj.callable, UnknownGlobal);
  assert.is((obj.callable as UnknownGlobal).qualifiedName, 'posix.system');
  assert.equal(obj.args, [`touch ${sentinel}`]);
  let exists = true;
  try {
    readFileSync(sentinel);
  } catch {
    exists = false;
  }
  assert.not.ok(exists, 'the payload must not have run');
});

test('every call of a non-allow-listed global is inert, including calls of call results', () => {
  // getattr(builtins.eval('x'), 'y')('z'): three calls, all inert, nested.
  const bytes = pk(0x80, 4, 'c', 'builtins\ngetattr\n', 'c', 'builtins\neval\n', str('x'), 0x85, 'R', str('y'), 0x86, 'R', str('z'), 0x85, 'R', '.');
  const outer = unpickle(bytes, 'nested.pkl') as InertObject;
  assert.instance(outer, InertObject);
  const inner = outer.callable as InertObject;
  assert.instance(inner, InertObject);
  assert.is((inner.callable as PyGlobal).qualifiedName, 'builtins.getattr');
  assert.is(((inner.args[0] as InertObject).callable as PyGlobal).qualifiedName, 'builtins.eval');
});

test('names on Object.prototype are not mistaken for allow-listed globals', () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const v = unpickleTorch(pk(0x80, 2, 'c', `torch\n${name}\n`, ')', 'R', '.'), 'proto.pkl');
    assert.instance(v, InertObject, name);
    assert.instance((v as InertObject).callable, UnknownGlobal, name);
  }
});

test('NEWOBJ, BUILD, SETITEMS and APPENDS on unknown classes are recorded, not executed', () => {
  // cls = mod.Thing; obj = cls.__new__(cls, 1); obj.__setstate__({'a': 2}); obj['k'] = 3; obj.append(4)
  const bytes = pk(0x80, 2, 'c', 'mod\nThing\n', 'K', 1, 0x85, 0x81, '}', str('a'), 'K', 2, 's', 'b', '(', str('k'), 'K', 3, 'u', '(', 'K', 4, 'e', '.');
  const obj = unpickle(bytes, 'obj.pkl') as InertObject;
  assert.is(obj.via, 'newobj');
  assert.equal(obj.args, [1]);
  assert.equal([...(obj.state as Map<PyValue, PyValue>)], [['a', 2]]);
  assert.equal(obj.dictItems, [['k', 3]]);
  assert.equal(obj.listItems, [4]);
});

test('allow-listed data constructors build data: OrderedDict, set, frozenset, torch.Size, torch.device, numpy scalars', () => {
  const od = unpickle(pk(0x80, 2, 'c', 'collections\nOrderedDict\n', ')', 'R', '(', str('b'), 'K', 1, str('a'), 'K', 2, 'u', '.'), 'od');
  assert.equal([...(od as Map<PyValue, PyValue>)], [['b', 1], ['a', 2]]);
  const size = unpickleTorch(pk(0x80, 2, 'c', 'torch\nSize\n', 'K', 3, 'K', 4, 0x86, 0x85, 'R', '.'), 'size');
  assert.equal((size as PyTuple).items, [3, 4]);
  const device = unpickleTorch(pk(0x80, 2, 'c', 'torch\ndevice\n', str('cuda'), 'K', 1, 0x86, 'R', '.'), 'device');
  assert.is(device, 'cuda:1');
  // numpy.float32(1.5) as numpy pickles it: scalar(dtype('f4') + BUILD state, bytes)
  const f32 = Buffer.alloc(4);
  f32.writeFloatLE(1.5);
  const scalar = pk(0x80, 3, 'c', 'numpy.core.multiarray\nscalar\n', 'c', 'numpy\ndtype\n', str('f4'), 0x89, 0x88, 0x87, 'R',
    '(', 'K', 3, str('<'), 'N', 'N', 'N', 'J', u32(0xffffffff), 'J', u32(0xffffffff), 'K', 0, 't', 'b', 'C', 4, f32, 0x86, 'R', '.');
  assert.is(unpickleTorch(scalar, 'np'), 1.5);
});

test('malformed pickles fail with one line naming the source and the byte', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['no STOP', pk(0x80, 2, 'N'), /truncated pickle \(no STOP/],
    ['string longer than the file', pk(0x80, 2, 'X', u32(1 << 30), 'abc', '.'), /truncated pickle \(needs 1073741824 bytes/],
    ['BINUNICODE8 length beyond 2^53', pk(0x80, 4, 0x8d, u64(1n << 62n), '.'), /truncated pickle/],
    ['frame longer than the file', pk(0x80, 4, 0x95, u64(1000n), 'N', '.'), /frame of 1000 bytes/],
    ['stack underflow', pk(0x80, 2, '0', '.'), /stack underflow at byte 2/],
    ['pop below a mark', pk(0x80, 2, 'N', '(', '0', '.'), /stack underflow/],
    ['memo miss', pk(0x80, 2, 'h', 9, '.'), /memo key 9 is not defined/],
    ['unknown opcode', pk(0x80, 2, 0xff, '.'), /unsupported opcode 0xff at byte 2/],
    ['unknown opcode', pk(0x80, 2, 0x01, '.'), /unsupported opcode 0x01/],
    ['protocol-0 INT that is not a number', pk('I', '1x\n', '.'), /INT argument "1x" is not an integer/],
    ['protocol-0 STRING without quotes', pk('S', 'abc\n', '.'), /STRING argument is not a quoted string/],
    ['protocol-0 GET of an unknown key', pk('g', '7\n', '.'), /memo key 7 is not defined/],
    ['extension registry', pk(0x80, 2, 0x82, 1, '.'), /EXT1/],
    ['future protocol', pk(0x80, 9, 'N', '.'), /unsupported pickle protocol 9/],
    ['REDUCE without a tuple', pk(0x80, 2, 'c', 'a\nb\n', 'N', 'R', '.'), /REDUCE expects a tuple, got None/],
    ['SETITEM on a list', pk(0x80, 2, ']', 'N', 'N', 's', '.'), /SETITEM on a list/],
    ['APPEND to a dict', pk(0x80, 2, '}', 'N', 'a', '.'), /APPEND to a dict/],
    ['SETITEMS odd', pk(0x80, 2, '}', '(', 'N', 'u', '.'), /odd number of items/],
    ['persistent id with no loader', pk(0x80, 2, 'N', 'Q', '.'), /persistent id/],
    ['unterminated global', pk(0x80, 2, 'c', 'torch'), /unterminated global name/],
    ['overlong global', pk(0x80, 2, 'c', 'x'.repeat(600), '\n', 'y\n', '.'), /global name longer than 512 bytes/],
    ['invalid UTF-8', pk(0x80, 2, 0x8c, 2, 0xc3, 0x28, '.'), /not valid UTF-8/],
    ['oversized integer', pk(0x80, 2, 0x8b, u32(100000), '.'), /integer of 100000 bytes exceeds/],
    ['STACK_GLOBAL of non-strings', pk(0x80, 4, 'K', 1, 'K', 2, 0x93, '.'), /STACK_GLOBAL needs two strings/],
  ];
  for (const [what, bytes, pattern] of cases) {
    const err = throwsFormat(() => unpickle(bytes, 'bad.pkl'), pattern, what);
    assert.match(err.message, /^bad\.pkl: /, what);
  }
});

test('stack, MARK nesting, memo and object counts are bounded', () => {
  const many = (n: number, ...op: (number | string)[]) => Array.from({ length: n }, () => pk(...op));
  const deep = pk(0x80, 2, ...many(20, 'N'), '.');
  throwsFormat(() => unpickle(deep, 'deep', { limits: { maxStack: 10 } }), /stack deeper than 10/);
  const marks = pk(0x80, 2, ...many(20, '('), '.');
  throwsFormat(() => unpickle(marks, 'marks', { limits: { maxMarks: 10 } }), /more than 10 nested MARKs/);
  const memo = pk(0x80, 4, 'N', ...many(20, 0x94), '.');
  throwsFormat(() => unpickle(memo, 'memo', { limits: { maxMemo: 10 } }), /memo larger than 10/);
  const objects = pk(0x80, 2, ']', ...many(20, ']', 'a'), '.');
  throwsFormat(() => unpickle(objects, 'objects', { limits: { maxObjects: 10 } }), /more than 10 objects/);
  // The defaults let realistic sizes through.
  assert.is((unpickle(pk(0x80, 2, ']', ...many(5000, ']', 'a'), '.'), 'ok') as PyValue[]).length, 5000);
});

test.run();
