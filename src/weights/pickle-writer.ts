// A pickle writer for data: it emits the protocol-2 opcodes that torch.save itself emits for a
// checkpoint (dicts, OrderedDicts, lists, tuples, str, int, float, bool, None) and hands anything
// else to a hook (torch-save.ts turns tensors into _rebuild_tensor_v2 calls on persistent storage
// ids). Only opcodes that torch's weights_only unpickler reads are used, except BINFLOAT, which
// torch 1.13's weights_only unpickler lacks (later releases read it; a float has no other opcode).
import { WeightsFormatError } from './format-error.js';
import { PyTuple } from './pickle.js';

/** A Python float even when the value is integral (lr=1.0, weight_decay=0.0). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A tuple of pickle data (the reader's PyTuple, whose items may be writer-only values). */
export function pyTuple(...items: PickleData[]): PyTuple {
  return new PyTuple(items as PyTuple['items']);
}

/** A collections.OrderedDict (a state dict); a plain Map is written as a dict. */
export class OrderedDict<K, V> extends Map<K, V> {}

/**
 * Values the writer emits itself. A JS number is an int when it is a safe integer and a float
 * otherwise; wrap it in PyFloat to force a float. Anything else goes to the `extension` hook.
 */
export type PickleData = null | boolean | number | bigint | string | PyFloat | PickleData[] | PyTuple | Map<PickleData, PickleData> | object;

/** What the writer lets a hook do: write values and globals, and memoise through its memo. */
export interface PickleEmitter {
  readonly source: string;
  value(v: PickleData): void;
  /** Pushes module.name; written once, then fetched from the memo. */
  global(module: string, name: string): void;
  op(...bytes: number[]): void;
  fail(problem: string): never;
}

/** Writes `v` when it is the hook's kind and returns true; false passes it on as unsupported. */
export type PickleExtension = (v: object, out: PickleEmitter) => boolean;

const OP = {
  PROTO: 0x80, STOP: 0x2e, MARK: 0x28, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89,
  BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58,
  EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, EMPTY_TUPLE: 0x29, TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  SETITEMS: 0x75, APPENDS: 0x65, GLOBAL: 0x63, REDUCE: 0x52, BINPUT: 0x71, LONG_BINPUT: 0x72, BINGET: 0x68, LONG_BINGET: 0x6a,
} as const;

/** Containers nest at most this deep (a cycle would otherwise recurse until the stack overflows). */
export const MAX_PICKLE_DEPTH = 256;
/** Longest string written: the reader's own limit, so that what rcae writes rcae reads back. */
const MAX_STRING_BYTES = 64 * 1024 * 1024;
/** pickle's SETITEMS/APPENDS batch size. */
const BATCH = 1000;

/** A growable byte buffer. */
class Bytes {
  private buf = new Uint8Array(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  push(...bytes: number[]): void {
    this.room(bytes.length);
    for (const b of bytes) this.buf[this.length++] = b;
  }

  append(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  u32(v: number): void {
    this.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Serialises `root` as a protocol-2 pickle; `source` names the file in errors. */
export function pickleData(root: PickleData, source: string, extension?: PickleExtension): Uint8Array {
  return new Writer(source, extension).run(root);
}

class Writer implements PickleEmitter {
  private readonly out = new Bytes();
  private readonly globals = new Map<string, number>();
  private memoSize = 0;
  private readonly open = new Set<object>();
  private readonly utf8 = new TextEncoder();

  constructor(readonly source: string, private readonly extension?: PickleExtension) {}

  fail(problem: string): never {
    throw new WeightsFormatError(this.source, `cannot write: ${problem}`);
  }

  run(root: PickleData): Uint8Array {
    this.op(OP.PROTO, 2);
    this.value(root);
    this.op(OP.STOP);
    return this.out.result();
  }

  op(...bytes: number[]): void {
    this.out.push(...bytes);
  }

  private put(): number {
    const key = this.memoSize++;
    if (key < 256) this.op(OP.BINPUT, key);
    else {
      this.op(OP.LONG_BINPUT);
      this.out.u32(key);
    }
    return key;
  }

  private get(key: number): void {
    if (key < 256) this.op(OP.BINGET, key);
    else {
      this.op(OP.LONG_BINGET);
      this.out.u32(key);
    }
  }

  global(module: string, name: string): void {
    const qualified = `${module}\n${name}\n`;
    const known = this.globals.get(qualified);
    if (known !== undefined) return this.get(known);
    this.op(OP.GLOBAL);
    this.out.append(this.utf8.encode(qualified));
    this.globals.set(qualified, this.put());
  }

  private int(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 256) return this.op(OP.BININT1, v);
    if (typeof v === 'number' && v >= 0 && v < 65536) return this.op(OP.BININT2, v & 0xff, v >>> 8);
    if (typeof v === 'number' && v >= -(2 ** 31) && v < 2 ** 31) {
      this.op(OP.BININT);
      return this.out.u32(v >>> 0);
    }
    // LONG1: little-endian two's complement in as few bytes as hold the sign.
    let n = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      const b = Number(n & 0xffn);
      bytes.push(b);
      n >>= 8n;
      if ((n === 0n && (b & 0x80) === 0) || (n === -1n && (b & 0x80) !== 0)) break;
    }
    if (bytes.length > 255) this.fail(`integer of ${bytes.length} bytes is too large`);
    this.op(OP.LONG1, bytes.length, ...bytes);
  }

  private float(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    this.op(OP.BINFLOAT, ...b);
  }

  private string(s: string): void {
    const b = this.utf8.encode(s);
    if (b.length > MAX_STRING_BYTES) this.fail(`string of ${b.length} bytes is longer than ${MAX_STRING_BYTES}`);
    this.op(OP.BINUNICODE);
    this.out.u32(b.length);
    this.out.append(b);
  }

  /** Containers are refused when they contain themselves (the memo holds only globals). */
  private container(v: object, write: () => void): void {
    if (this.open.has(v)) this.fail('a container holds itself');
    if (this.open.size >= MAX_PICKLE_DEPTH) this.fail(`containers nest deeper than ${MAX_PICKLE_DEPTH}`);
    this.open.add(v);
    write();
    this.open.delete(v);
  }

  private batched<T>(items: readonly T[], opcode: number, writeItem: (item: T) => void): void {
    for (let i = 0; i < items.length; i += BATCH) {
      this.op(OP.MARK);
      for (const item of items.slice(i, i + BATCH)) writeItem(item);
      this.op(opcode);
    }
  }

  value(v: PickleData): void {
    if (v === null) return this.op(OP.NONE);
    if (v === true) return this.op(OP.NEWTRUE);
    if (v === false) return this.op(OP.NEWFALSE);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'number') return Number.isSafeInteger(v) ? this.int(v) : this.float(v);
    if (typeof v === 'string') return this.string(v);
    if (v instanceof PyFloat) return this.float(v.value);
    if (Array.isArray(v)) {
      return this.container(v, () => {
        this.op(OP.EMPTY_LIST);
        this.batched(v, OP.APPENDS, (item) => this.value(item));
      });
    }
    if (v instanceof PyTuple) return this.container(v, () => this.tuple(v.items as PickleData[]));
    if (v instanceof Map) {
      return this.container(v, () => {
        if (v instanceof OrderedDict) {
          this.global('collections', 'OrderedDict');
          this.op(OP.EMPTY_TUPLE, OP.REDUCE);
        } else this.op(OP.EMPTY_DICT);
        this.batched([...v], OP.SETITEMS, ([key, item]) => {
          this.value(key);
          this.value(item);
        });
      });
    }
    if (typeof v === 'object' && this.extension?.(v, this)) return;
    this.fail(`a value of type ${typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v} has no pickle form here`);
  }

  private tuple(items: readonly PickleData[]): void {
    if (items.length === 0) return this.op(OP.EMPTY_TUPLE);
    if (items.length > 3) this.op(OP.MARK);
    for (const item of items) this.value(item);
    this.op(items.length > 3 ? OP.TUPLE : [OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length - 1]);
  }
}
