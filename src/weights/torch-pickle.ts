// What torch.save puts in data.pkl, read as data: the allow-list of torch and numpy globals, the
// persistent ids that name storages, and _rebuild_tensor_v2 calls turned into lazy tensor records.
import type { CallContext, Constructor, GlobalPolicy, OpaqueValue, PyValue } from './pickle.js';
import { BASE_GLOBALS, InertObject, PyGlobal, PyTuple, pyTypeName, unpickle } from './pickle.js';
import { MAX_RANK, type TensorDType } from './tensor.js';

/** A storage named by a persistent id: its bytes are the zip entry `<archive>/data/<key>`. */
export interface StorageRef extends OpaqueValue {
  readonly kind: 'storage';
  readonly key: string;
  /** null when the storage type is known but not a dtype this project reads (int16, complex, ...). */
  readonly dtype: TensorDType | null;
  readonly typeName: string;
  readonly location: string;
  readonly numel: number;
}

/** A tensor as _rebuild_tensor_v2 describes it: a strided view into a storage. */
export interface TensorRef extends OpaqueValue {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly storageOffset: number;
  readonly shape: number[];
  readonly strides: number[];
}

export function isTensorRef(v: PyValue): v is TensorRef {
  return typeof v === 'object' && v !== null && (v as Partial<OpaqueValue>).kind === 'tensor';
}

function isStorageRef(v: PyValue): v is StorageRef {
  return typeof v === 'object' && v !== null && (v as Partial<OpaqueValue>).kind === 'storage';
}

// Storage classes (torch.FloatStorage) and, in newer files, dtype objects (torch.float32).
const STORAGE_DTYPES: ReadonlyMap<string, TensorDType> = new Map([
  ['FloatStorage', 'f32'], ['HalfStorage', 'f16'], ['BFloat16Storage', 'bf16'], ['DoubleStorage', 'f64'],
  ['LongStorage', 'i64'], ['IntStorage', 'i32'], ['ByteStorage', 'u8'], ['BoolStorage', 'bool'], ['UntypedStorage', 'u8'],
  ['float32', 'f32'], ['float', 'f32'], ['float16', 'f16'], ['half', 'f16'], ['bfloat16', 'bf16'], ['float64', 'f64'],
  ['double', 'f64'], ['int64', 'i64'], ['long', 'i64'], ['int32', 'i32'], ['int', 'i32'], ['uint8', 'u8'], ['bool', 'bool'],
]);

const TORCH_MODULES = new Set(['torch', 'torch.cuda']);

function isTorchDataGlobal(module: string, name: string): boolean {
  return TORCH_MODULES.has(module) && (STORAGE_DTYPES.has(name) || /^[A-Za-z0-9]+Storage$/.test(name));
}

function nonNegativeInt(v: PyValue, what: string, ctx: CallContext): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) ctx.fail(`corrupt checkpoint: ${what} is ${pyTypeName(v)} ${String(v)}, not a non-negative integer`);
  return v;
}

function intTuple(v: PyValue, what: string, ctx: CallContext): number[] {
  if (!(v instanceof PyTuple)) ctx.fail(`corrupt checkpoint: tensor ${what} is a ${pyTypeName(v)}, not a tuple`);
  if (v.items.length > MAX_RANK) ctx.fail(`corrupt checkpoint: tensor rank ${v.items.length} exceeds ${MAX_RANK}`);
  return v.items.map((x) => nonNegativeInt(x, `a tensor ${what} entry`, ctx));
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
const rebuildTensor: Constructor = (args, ctx): TensorRef => {
  const [storage, offset, size, stride] = args;
  if (!isStorageRef(storage)) return ctx.fail(`corrupt checkpoint: tensor rebuilt from a ${pyTypeName(storage)}, not a storage`);
  const shape = intTuple(size, 'size', ctx);
  const strides = intTuple(stride, 'stride', ctx);
  if (shape.length !== strides.length) ctx.fail(`corrupt checkpoint: tensor of rank ${shape.length} has ${strides.length} strides`);
  return { kind: 'tensor', storage, storageOffset: nonNegativeInt(offset, 'tensor storage offset', ctx), shape, strides };
};

/** A Parameter is its data; requires_grad and hooks do not matter for inference. */
const rebuildParameter: Constructor = (args) => args[0];

/** _rebuild_from_type_v2(func, new_type, args, state): a tensor subclass; keep the plain tensor. */
const rebuildFromType: Constructor = (args, ctx) => {
  const [func, , inner] = args;
  if (!(inner instanceof PyTuple)) return ctx.fail('corrupt checkpoint: _rebuild_from_type_v2 without an argument tuple');
  return ctx.call(func, inner.items);
};

const torchSize: Constructor = (args) => (args[0] instanceof PyTuple ? args[0] : new InertObject(new PyGlobal('torch', 'Size'), args, 'reduce'));

const torchDevice: Constructor = (args) => args.filter((a) => typeof a === 'string' || typeof a === 'number').join(':');

/** numpy.dtype('f8', False, True); BUILD then supplies the byte order. */
class NumpyDtype implements OpaqueValue {
  readonly kind = 'numpy.dtype';
  byteOrder = '<';

  constructor(readonly code: string) {}

  setState(state: PyValue): void {
    if (state instanceof PyTuple && typeof state.items[1] === 'string') this.byteOrder = state.items[1];
  }
}

const numpyDtype: Constructor = (args) => (typeof args[0] === 'string' ? new NumpyDtype(args[0]) : new InertObject(new PyGlobal('numpy', 'dtype'), args, 'reduce'));

/** numpy.core.multiarray.scalar(dtype, bytes): a numpy number, decoded as a plain number. */
const numpyScalar: Constructor = (args) => {
  const [dtype, data] = args;
  const inert = (): InertObject => new InertObject(new PyGlobal('numpy.core.multiarray', 'scalar'), args, 'reduce');
  if (!(dtype instanceof NumpyDtype) || !(data instanceof Uint8Array)) return inert();
  const little = dtype.byteOrder !== '>';
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const readers = new Map<string, [number, () => PyValue]>([
    ['f8', [8, () => view.getFloat64(0, little)]],
    ['f4', [4, () => view.getFloat32(0, little)]],
    ['i8', [8, () => Number(view.getBigInt64(0, little))]],
    ['u8', [8, () => Number(view.getBigUint64(0, little))]],
    ['i4', [4, () => view.getInt32(0, little)]],
    ['u4', [4, () => view.getUint32(0, little)]],
    ['i2', [2, () => view.getInt16(0, little)]],
    ['u2', [2, () => view.getUint16(0, little)]],
    ['i1', [1, () => view.getInt8(0)]],
    ['u1', [1, () => view.getUint8(0)]],
    ['b1', [1, () => view.getUint8(0) !== 0]],
  ]);
  const reader = readers.get(dtype.code);
  return reader && data.length === reader[0] ? reader[1]() : inert();
};

const TORCH_CONSTRUCTORS = new Map<string, Constructor>([
  ...BASE_GLOBALS.constructors,
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ['torch._utils._rebuild_parameter_with_state', rebuildParameter],
  ['torch._tensor._rebuild_from_type_v2', rebuildFromType],
  ['torch.Size', torchSize],
  ['torch.device', torchDevice],
  ['numpy.dtype', numpyDtype],
  ['numpy.core.multiarray.scalar', numpyScalar],
  ['numpy._core.multiarray.scalar', numpyScalar],
]);

export const TORCH_GLOBALS: GlobalPolicy = { constructors: TORCH_CONSTRUCTORS, isDataGlobal: isTorchDataGlobal };

/** ('storage', storage_type, key, location, numel) -> a StorageRef; anything else is corrupt. */
function storageFromPersistentId(pid: PyValue, ctx: CallContext): StorageRef {
  const items = pid instanceof PyTuple ? pid.items : [];
  const [tag, type, key, location, numel] = items;
  if (items.length !== 5 || tag !== 'storage') ctx.fail(`corrupt checkpoint: unrecognised persistent id (a ${pyTypeName(pid)})`);
  if (!(type instanceof PyGlobal) || !isTorchDataGlobal(type.module, type.name)) ctx.fail(`corrupt checkpoint: storage type is ${pyTypeName(type)}`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) ctx.fail('corrupt checkpoint: storage key is not a plain name');
  return {
    kind: 'storage',
    key,
    dtype: STORAGE_DTYPES.get(type.name) ?? null,
    typeName: type.name,
    location: typeof location === 'string' ? location : '',
    numel: nonNegativeInt(numel, 'storage size', ctx),
  };
}

/** Reads a torch.save data.pkl into plain values, storages and lazy tensor records. */
export function unpickleTorch(bytes: Uint8Array, source: string): PyValue {
  return unpickle(bytes, source, { globals: TORCH_GLOBALS, persistentLoad: storageFromPersistentId });
}
