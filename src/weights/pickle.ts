// A restricted unpickler: it interprets the pickle opcodes that torch.save emits (protocols 1-5)
// and BUILDS DATA, NEVER EXECUTES. A global is only ever a name; an allow-listed name may have a
// data constructor (OrderedDict -> Map, torch.Size -> tuple, ...), and every other call of any
// callable yields an InertObject that just holds its arguments. Stack, memo, object count and
// integer sizes are bounded; strings and bytes are bounded by the bytes actually present.
import { WeightsFormatError } from './format-error.js';

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A global that is on the allow-list: it names data (a dtype, a storage class) or a data constructor. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Any global not on the allow-list (os.system, argparse.Namespace, optimizer classes, ...). */
export class UnknownGlobal extends PyGlobal {}

/** Values the BUILD opcode may update; everything else ignores BUILD's state. */
export interface Buildable {
  setState(state: PyValue): void;
}

/** The inert result of calling anything that has no data constructor: it keeps what it was given. */
export class InertObject implements Buildable {
  state: PyValue | undefined;
  readonly listItems: PyValue[] = [];
  readonly dictItems: [PyValue, PyValue][] = [];

  constructor(
    readonly callable: PyValue,
    readonly args: readonly PyValue[],
    readonly via: 'reduce' | 'newobj' | 'obj',
    readonly kwargs?: PyValue,
  ) {}

  setState(state: PyValue): void {
    this.state = state;
  }
}

/** Values produced by domain-specific constructors (torch storages and tensors, numpy dtypes). */
export interface OpaqueValue {
  readonly kind: string;
}

export type PyValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PyValue[] | PyTuple | Map<PyValue, PyValue> | Set<PyValue>
  | PyGlobal | InertObject | OpaqueValue;

export interface CallContext {
  readonly source: string;
  fail(problem: string): never;
  /** Applies a callable the way REDUCE does (used by constructors that receive a callable). */
  call(callable: PyValue, args: readonly PyValue[]): PyValue;
}

export type Constructor = (args: readonly PyValue[], ctx: CallContext) => PyValue;

export interface GlobalPolicy {
  /** Allow-listed callables, by "module.name", and the data each builds from its arguments. */
  readonly constructors: ReadonlyMap<string, Constructor>;
  /** Allow-listed globals that are data themselves, not called (torch.float32, torch.FloatStorage). */
  isDataGlobal(module: string, name: string): boolean;
}

export interface PickleLimits {
  maxStack: number;
  maxMarks: number;
  maxMemo: number;
  maxObjects: number;
  maxIntBytes: number;
  maxGlobalNameBytes: number;
  /** Longest str or bytes value; V8 strings stop near 512 MiB, and no checkpoint needs a long one. */
  maxStringBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = {
  maxStack: 1 << 20,
  maxMarks: 1 << 12,
  maxMemo: 1 << 22,
  maxObjects: 1 << 24,
  maxIntBytes: 512,
  maxGlobalNameBytes: 512,
  maxStringBytes: 64 * 1024 * 1024,
};

export interface UnpickleOptions {
  globals?: GlobalPolicy;
  persistentLoad?: (pid: PyValue, ctx: CallContext) => PyValue;
  limits?: Partial<PickleLimits>;
}

function isBuildable(v: PyValue): v is PyValue & Buildable {
  return typeof v === 'object' && v !== null && typeof (v as Partial<Buildable>).setState === 'function';
}

export function pyTypeName(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof InertObject) return v.callable instanceof PyGlobal ? `${v.callable.qualifiedName} object` : 'object';
  return (v as OpaqueValue).kind;
}

// Pure-data constructors that are safe in any pickle.
// Protocol-2 pickles name builtins under their Python 2 module, __builtin__.
const BUILTIN_MODULES = ['builtins', '__builtin__'];
const BASE_CONSTRUCTORS = new Map<string, Constructor>([
  ['collections.OrderedDict', orderedDict],
  ['_codecs.encode', encodeBytes],
  ...BUILTIN_MODULES.flatMap((m): [string, Constructor][] => [
    [`${m}.set`, (args) => new Set(iterableArg(args))],
    [`${m}.frozenset`, (args) => new Set(iterableArg(args))],
    // Protocol 2 writes b'' as bytes().
    [`${m}.bytes`, (args) => (args.length === 0 ? new Uint8Array(0) : new InertObject(new PyGlobal(m, 'bytes'), args, 'reduce'))],
  ]),
]);

export const BASE_GLOBALS: GlobalPolicy = { constructors: BASE_CONSTRUCTORS, isDataGlobal: () => false };

function iterableArg(args: readonly PyValue[]): PyValue[] {
  const a = args[0];
  if (Array.isArray(a)) return a;
  if (a instanceof PyTuple) return [...a.items];
  if (a instanceof Set) return [...a];
  return [];
}

/** Protocol 2 has no bytes opcode: bytes are pickled as _codecs.encode(text, 'latin1'). */
function encodeBytes(args: readonly PyValue[]): PyValue {
  const [text, encoding = 'utf-8'] = args;
  if (typeof text === 'string' && (encoding === 'latin1' || encoding === 'latin-1') && /^[\x00-\xff]*$/.test(text)) {
    return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
  }
  if (typeof text === 'string' && (encoding === 'utf-8' || encoding === 'utf8')) return new TextEncoder().encode(text);
  return new InertObject(new PyGlobal('_codecs', 'encode'), args, 'reduce');
}

function orderedDict(args: readonly PyValue[], ctx: CallContext): Map<PyValue, PyValue> {
  const out = new Map<PyValue, PyValue>();
  for (const pair of iterableArg(args)) {
    const kv = pair instanceof PyTuple ? pair.items : Array.isArray(pair) ? pair : null;
    if (!kv || kv.length !== 2) ctx.fail('corrupt pickle: OrderedDict item is not a (key, value) pair');
    out.set(kv[0], kv[1]);
  }
  return out;
}

// Opcodes (pickletools names), protocols 0 to 5. The protocol-0 text opcodes (INT, STRING, PUT,
// GET, ...) carry their argument as a line ending in a newline.
const OP = {
  INT: 0x49, LONG: 0x4c, FLOAT: 0x46, STRING: 0x53, UNICODE: 0x56, PUT: 0x70, GET: 0x67, PERSID: 0x50,
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32,
  BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, NONE: 0x4e, BINPERSID: 0x51, REDUCE: 0x52,
  BINSTRING: 0x54, SHORT_BINSTRING: 0x55, BINUNICODE: 0x58, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, APPENDS: 0x65, BINGET: 0x68, INST: 0x69,
  LONG_BINGET: 0x6a, LIST: 0x6c, OBJ: 0x6f, BINPUT: 0x71, LONG_BINPUT: 0x72, SETITEM: 0x73,
  TUPLE: 0x74, SETITEMS: 0x75, EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, EMPTY_TUPLE: 0x29, BINFLOAT: 0x47,
  PROTO: 0x80, NEWOBJ: 0x81, EXT1: 0x82, EXT2: 0x83, EXT4: 0x84, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, ADDITEMS: 0x90,
  FROZENSET: 0x91, NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95, BYTEARRAY8: 0x96,
} as const;

const HIGHEST_PROTOCOL = 5;

/** Python's repr of a str/bytes in protocol 0 (STRING): quoted, with backslash escapes; as latin-1. */
function unquotePythonString(text: string, corrupt: (problem: string) => never): string {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) corrupt('STRING argument is not a quoted string');
  const body = text.slice(1, -1);
  const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) corrupt('STRING argument ends in a backslash');
    if (e in simple) out += simple[e];
    else if (e === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) corrupt('STRING argument has a bad \\x escape');
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (/[0-7]/.test(e)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out += String.fromCharCode(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else out += '\\' + e;
  }
  return out;
}

/** Python's raw-unicode-escape (UNICODE): latin-1 text where only \\uXXXX and \\UXXXXXXXX are escapes. */
function rawUnicodeEscape(text: string, corrupt: (problem: string) => never): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})/g, (_, hex: string) => {
    const cp = parseInt(hex.slice(1), 16);
    if (cp > 0x10ffff) corrupt(`UNICODE argument has code point U+${cp.toString(16)} beyond U+10FFFF`);
    return String.fromCodePoint(cp);
  });
}

/** Interprets a pickle and returns the value STOP leaves; throws WeightsFormatError naming `source`. */
export function unpickle(bytes: Uint8Array, source: string, options: UnpickleOptions = {}): PyValue {
  return new Machine(bytes, source, options).run();
}

class Machine implements CallContext {
  private pos = 0;
  private readonly view: DataView;
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private objects = 0;
  private readonly limits: PickleLimits;
  private readonly globals: GlobalPolicy;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  private readonly latin1 = new TextDecoder('latin1');

  constructor(private readonly bytes: Uint8Array, readonly source: string, private readonly options: UnpickleOptions) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
    this.globals = options.globals ?? BASE_GLOBALS;
  }

  fail(problem: string): never {
    throw new WeightsFormatError(this.source, problem);
  }

  private corrupt(problem: string, at = this.pos): never {
    this.fail(`corrupt pickle: ${problem} at byte ${at}`);
  }

  run(): PyValue {
    while (this.pos < this.bytes.length) {
      const at = this.pos;
      const op = this.bytes[this.pos++];
      if (op === OP.STOP) return this.pop(at);
      this.step(op, at);
    }
    return this.fail(`truncated pickle (no STOP opcode in ${this.bytes.length} bytes)`);
  }

  // ---- raw reads, each bounded by the bytes that remain ----

  private take(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) this.fail(`truncated pickle (needs ${n} bytes at byte ${this.pos}, ${this.bytes.length - this.pos} left)`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(): number {
    return this.take(1)[0];
  }

  private u16(): number {
    const b = this.take(2);
    return b[0] | (b[1] << 8);
  }

  private u32(): number {
    this.take(4);
    return this.view.getUint32(this.pos - 4, true);
  }

  private i32(): number {
    this.take(4);
    return this.view.getInt32(this.pos - 4, true);
  }

  private u64(): number {
    this.take(8);
    const v = this.view.getBigUint64(this.pos - 8, true);
    // Any length beyond what is left in the file is reported by take(); clamp so it can say so.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  private f64be(): number {
    this.take(8);
    return this.view.getFloat64(this.pos - 8, false);
  }

  /** The bytes up to the next newline (consumed, not returned), at most `limit` of them. */
  private lineBytes(limit: number, what: string): Uint8Array {
    const window = this.bytes.subarray(this.pos, this.pos + limit + 1);
    const n = window.indexOf(0x0a);
    if (n < 0 && window.length > limit) this.corrupt(`${what} longer than ${limit} bytes`);
    if (n < 0) this.fail(`truncated pickle (unterminated ${what} at byte ${this.pos})`);
    return this.take(n + 1).subarray(0, n);
  }

  private line(): string {
    return this.text(this.lineBytes(this.limits.maxGlobalNameBytes, 'global name'));
  }

  /** A protocol-0 argument line read as ASCII (numbers, memo keys, quoted literals). */
  private asciiLine(what: string, limit = 64): string {
    return this.latin1.decode(this.lineBytes(limit, what));
  }

  /** Checked before decoding, so an oversized string is reported as too large, not as invalid text. */
  private stringBytes(n: number): Uint8Array {
    const at = this.pos;
    const b = this.take(n); // a length beyond the file is reported as truncation first
    if (n > this.limits.maxStringBytes) this.corrupt(`string of ${n} bytes exceeds the limit of ${this.limits.maxStringBytes}`, at);
    return b;
  }

  private text(b: Uint8Array): string {
    if (b.length > this.limits.maxStringBytes) this.corrupt(`string of ${b.length} bytes exceeds the limit of ${this.limits.maxStringBytes}`);
    try {
      return this.utf8.decode(b);
    } catch {
      return this.corrupt('string is not valid UTF-8');
    }
  }

  private long(n: number): number | bigint {
    if (n > this.limits.maxIntBytes) this.corrupt(`integer of ${n} bytes exceeds the limit of ${this.limits.maxIntBytes}`);
    const b = this.take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A decimal integer of a protocol-0 line; as number when exact, else as bigint. */
  private decimal(text: string, what: string, at: number): number | bigint {
    if (!/^[-+]?\d+$/.test(text)) this.corrupt(`${what} argument ${JSON.stringify(text.slice(0, 40))} is not an integer`, at);
    const v = BigInt(text);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private memoKey(text: string, at: number): number {
    if (!/^\d{1,10}$/.test(text)) this.corrupt(`memo key ${JSON.stringify(text.slice(0, 40))} is not a non-negative integer`, at);
    return Number(text);
  }

  // ---- stack, marks, memo ----

  private push(v: PyValue): void {
    if (this.stack.length >= this.limits.maxStack) this.corrupt(`stack deeper than ${this.limits.maxStack}`);
    this.stack.push(v);
  }

  private created(v: PyValue): void {
    if (++this.objects > this.limits.maxObjects) this.corrupt(`more than ${this.limits.maxObjects} objects`);
    this.push(v);
  }

  private floor(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1] : 0;
  }

  private pop(at: number): PyValue {
    if (this.stack.length <= this.floor()) this.corrupt('stack underflow', at);
    return this.stack.pop() as PyValue;
  }

  private top(at: number): PyValue {
    if (this.stack.length <= this.floor()) this.corrupt('stack underflow', at);
    return this.stack[this.stack.length - 1];
  }

  private popMark(at: number): PyValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.corrupt('no MARK on the stack', at);
    return this.stack.splice(mark);
  }

  private memoPut(key: number, v: PyValue): void {
    if (!this.memo.has(key) && this.memo.size >= this.limits.maxMemo) this.corrupt(`memo larger than ${this.limits.maxMemo}`);
    this.memo.set(key, v);
  }

  private memoGet(key: number, at: number): PyValue {
    if (!this.memo.has(key)) this.corrupt(`memo key ${key} is not defined`, at);
    return this.memo.get(key) as PyValue;
  }

  // ---- globals and calls: names only, never code ----

  private resolveGlobal(module: string, name: string): PyGlobal {
    const known = this.globals.constructors.has(`${module}.${name}`) || this.globals.isDataGlobal(module, name);
    return known ? new PyGlobal(module, name) : new UnknownGlobal(module, name);
  }

  call(callable: PyValue, args: readonly PyValue[], via: InertObject['via'] = 'reduce', kwargs?: PyValue): PyValue {
    if (callable instanceof PyGlobal && !(callable instanceof UnknownGlobal)) {
      const construct = this.globals.constructors.get(callable.qualifiedName);
      if (construct) return construct(args, this);
    }
    return new InertObject(callable, args, via, kwargs);
  }

  private tupleItems(v: PyValue, what: string, at: number): readonly PyValue[] {
    if (!(v instanceof PyTuple)) this.corrupt(`${what} expects a tuple, got ${pyTypeName(v)}`, at);
    return v.items;
  }

  private setItems(target: PyValue, items: PyValue[], at: number): void {
    if (items.length % 2 !== 0) this.corrupt('SETITEMS with an odd number of items', at);
    for (let i = 0; i < items.length; i += 2) {
      if (target instanceof Map) target.set(items[i], items[i + 1]);
      else if (target instanceof InertObject) target.dictItems.push([items[i], items[i + 1]]);
      else this.corrupt(`SETITEM on a ${pyTypeName(target)}`, at);
    }
  }

  private appendItems(target: PyValue, items: PyValue[], at: number): void {
    if (Array.isArray(target)) for (const v of items) target.push(v);
    else if (target instanceof InertObject) for (const v of items) target.listItems.push(v);
    else this.corrupt(`APPEND to a ${pyTypeName(target)}`, at);
  }

  private step(op: number, at: number): void {
    switch (op) {
      case OP.PROTO: {
        const v = this.u8();
        if (v > HIGHEST_PROTOCOL) this.corrupt(`unsupported pickle protocol ${v}`, at);
        return;
      }
      case OP.FRAME: {
        // Frames only batch I/O; the bytes are all in memory already, but the length must fit.
        const n = this.u64();
        if (n > this.bytes.length - this.pos) this.fail(`truncated pickle (frame of ${n} bytes at byte ${at}, ${this.bytes.length - this.pos} left)`);
        return;
      }
      case OP.MARK:
        if (this.marks.length >= this.limits.maxMarks) this.corrupt(`more than ${this.limits.maxMarks} nested MARKs`, at);
        this.marks.push(this.stack.length);
        return;
      case OP.POP:
        this.pop(at);
        return;
      case OP.POP_MARK:
        this.popMark(at);
        return;
      case OP.DUP:
        this.push(this.top(at));
        return;
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(this.i32());
      case OP.BININT1:
        return this.push(this.u8());
      case OP.BININT2:
        return this.push(this.u16());
      case OP.LONG1:
        return this.push(this.long(this.u8()));
      case OP.LONG4: {
        const n = this.i32();
        if (n < 0) this.corrupt('negative LONG4 length', at);
        return this.push(this.long(n));
      }
      case OP.BINFLOAT:
        return this.push(this.f64be());
      case OP.SHORT_BINUNICODE:
        return this.created(this.text(this.stringBytes(this.u8())));
      case OP.BINUNICODE:
        return this.created(this.text(this.stringBytes(this.u32())));
      case OP.BINUNICODE8:
        return this.created(this.text(this.stringBytes(this.u64())));
      case OP.SHORT_BINSTRING:
        return this.created(this.latin1.decode(this.stringBytes(this.u8())));
      case OP.BINSTRING: {
        const n = this.i32();
        if (n < 0) this.corrupt('negative BINSTRING length', at);
        return this.created(this.latin1.decode(this.stringBytes(n)));
      }
      case OP.SHORT_BINBYTES:
        return this.created(this.stringBytes(this.u8()));
      case OP.BINBYTES:
        return this.created(this.stringBytes(this.u32()));
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        return this.created(this.stringBytes(this.u64()));
      case OP.INT: {
        // Protocol 0 writes True and False as INT 01 and 00.
        const text = this.asciiLine('INT argument');
        if (text === '01' || text === '00') return this.push(text === '01');
        return this.push(this.decimal(text.replace(/L$/, ''), 'INT', at));
      }
      case OP.LONG:
        return this.push(this.decimal(this.asciiLine('LONG argument', this.limits.maxIntBytes * 3).replace(/L$/, ''), 'LONG', at));
      case OP.FLOAT: {
        const text = this.asciiLine('FLOAT argument').trim();
        const special = /^([-+]?)(inf|nan)$/i.exec(text);
        if (special) return this.push(special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity);
        if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) this.corrupt(`FLOAT argument ${JSON.stringify(text)} is not a number`, at);
        return this.push(Number(text));
      }
      case OP.STRING:
        return this.created(unquotePythonString(this.asciiLine('STRING argument', this.limits.maxStringBytes * 4 + 2), (p) => this.corrupt(p, at)));
      case OP.UNICODE:
        return this.created(rawUnicodeEscape(this.asciiLine('UNICODE argument', this.limits.maxStringBytes * 10), (p) => this.corrupt(p, at)));
      case OP.PUT:
        return this.memoPut(this.memoKey(this.asciiLine('PUT key'), at), this.top(at));
      case OP.GET:
        return this.push(this.memoGet(this.memoKey(this.asciiLine('GET key'), at), at));
      case OP.PERSID: {
        if (!this.options.persistentLoad) this.corrupt('persistent id in a pickle that allows none', at);
        return this.created(this.options.persistentLoad(this.asciiLine('PERSID argument', this.limits.maxGlobalNameBytes), this));
      }
      case OP.EMPTY_DICT:
        return this.created(new Map());
      case OP.EMPTY_LIST:
        return this.created([]);
      case OP.EMPTY_TUPLE:
        return this.created(new PyTuple([]));
      case OP.EMPTY_SET:
        return this.created(new Set());
      case OP.TUPLE:
        return this.created(new PyTuple(this.popMark(at)));
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3: {
        const n = op - OP.TUPLE1 + 1;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.pop(at));
        return this.created(new PyTuple(items));
      }
      case OP.LIST:
        return this.created(this.popMark(at));
      case OP.DICT: {
        const d = new Map<PyValue, PyValue>();
        this.setItems(d, this.popMark(at), at);
        return this.created(d);
      }
      case OP.FROZENSET:
        return this.created(new Set(this.popMark(at)));
      case OP.BINPUT:
        return this.memoPut(this.u8(), this.top(at));
      case OP.LONG_BINPUT:
        return this.memoPut(this.u32(), this.top(at));
      case OP.MEMOIZE:
        return this.memoPut(this.memo.size, this.top(at));
      case OP.BINGET:
        return this.push(this.memoGet(this.u8(), at));
      case OP.LONG_BINGET:
        return this.push(this.memoGet(this.u32(), at));
      case OP.SETITEM: {
        const value = this.pop(at);
        const key = this.pop(at);
        return this.setItems(this.top(at), [key, value], at);
      }
      case OP.SETITEMS: {
        const items = this.popMark(at);
        return this.setItems(this.top(at), items, at);
      }
      case OP.APPEND: {
        const value = this.pop(at);
        return this.appendItems(this.top(at), [value], at);
      }
      case OP.APPENDS: {
        const items = this.popMark(at);
        return this.appendItems(this.top(at), items, at);
      }
      case OP.ADDITEMS: {
        const items = this.popMark(at);
        const target = this.top(at);
        if (!(target instanceof Set)) this.corrupt(`ADDITEMS to a ${pyTypeName(target)}`, at);
        for (const v of items) target.add(v);
        return;
      }
      case OP.GLOBAL: {
        const module = this.line();
        const name = this.line();
        return this.created(this.resolveGlobal(module, name));
      }
      case OP.STACK_GLOBAL: {
        const name = this.pop(at);
        const module = this.pop(at);
        if (typeof module !== 'string' || typeof name !== 'string') this.corrupt('STACK_GLOBAL needs two strings', at);
        return this.created(this.resolveGlobal(module, name));
      }
      case OP.REDUCE: {
        const args = this.tupleItems(this.pop(at), 'REDUCE', at);
        return this.created(this.call(this.pop(at), args));
      }
      case OP.NEWOBJ: {
        const args = this.tupleItems(this.pop(at), 'NEWOBJ', at);
        return this.created(this.call(this.pop(at), args, 'newobj'));
      }
      case OP.NEWOBJ_EX: {
        const kwargs = this.pop(at);
        const args = this.tupleItems(this.pop(at), 'NEWOBJ_EX', at);
        return this.created(this.call(this.pop(at), args, 'newobj', kwargs));
      }
      case OP.OBJ: {
        const [cls, ...args] = this.popMark(at);
        if (cls === undefined) this.corrupt('OBJ without a class', at);
        return this.created(this.call(cls, args, 'obj'));
      }
      case OP.INST: {
        const module = this.line();
        const name = this.line();
        return this.created(this.call(this.resolveGlobal(module, name), this.popMark(at), 'obj'));
      }
      case OP.BUILD: {
        const state = this.pop(at);
        const target = this.top(at);
        // Only inert placeholders and opaque records take state; real data ignores it
        // (an OrderedDict's BUILD carries torch's _metadata attribute, which nothing needs).
        if (isBuildable(target)) target.setState(state);
        return;
      }
      case OP.BINPERSID: {
        const pid = this.pop(at);
        if (!this.options.persistentLoad) this.corrupt('persistent id in a pickle that allows none', at);
        return this.created(this.options.persistentLoad(pid, this));
      }
      case OP.EXT1:
      case OP.EXT2:
      case OP.EXT4:
        return this.corrupt('extension-registry opcodes (EXT1/2/4) are not supported', at);
      default:
        return this.corrupt(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`, at);
    }
  }
}
