// Writes what torch.save writes: a stored zip holding archive/data.pkl (a protocol-2 pickle in
// which every tensor is torch._utils._rebuild_tensor_v2 over a storage named by a persistent id),
// archive/byteorder, one archive/data/<key> entry per storage and archive/version. The tensors'
// bytes are views, not copies; checkpoint.ts reads the result back, and so does torch.load.
import { formatShape } from './format-error.js';
import { elementCount } from '../graph/architecture.js';
import { PyTuple } from './pickle.js';
import { pickleData, type PickleData, type PickleEmitter } from './pickle-writer.js';
import { MAX_RANK, assertLittleEndianHost, contiguousStrides } from './tensor.js';
import { encodeStoredZip, type ZipPart } from './zip-writer.js';

/** A contiguous CPU tensor to save: float32 (weights, optimizer state) or int64 (num_batches_tracked). */
export class TorchTensor {
  readonly shape: number[];

  constructor(shape: readonly number[], readonly data: Float32Array | BigInt64Array) {
    this.shape = [...shape];
  }
}

const ARCHIVE = 'archive';
const OP_MARK = 0x28;
const OP_TUPLE = 0x74;
const OP_BINPERSID = 0x51;
const OP_EMPTY_TUPLE = 0x29;
const OP_REDUCE = 0x52;

/**
 * The bytes of a torch.save file holding `root`, as parts to write one after another. Tensors
 * that share one typed array share one storage, as tensors sharing storage do in torch.
 */
export function encodeTorchSave(path: string, root: PickleData): Uint8Array[] {
  assertLittleEndianHost();
  const storages = new Map<Float32Array | BigInt64Array, string>();
  const writeTensor = (t: TorchTensor, out: PickleEmitter): void => {
    const { shape, data } = t;
    if (shape.length > MAX_RANK || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) out.fail(`tensor shape ${formatShape(shape)} is not a list of at most ${MAX_RANK} sizes`);
    if (elementCount(shape) !== data.length) out.fail(`tensor of shape ${formatShape(shape)} is given ${data.length} values`);
    let key = storages.get(data);
    if (key === undefined) {
      key = String(storages.size);
      storages.set(data, key);
    }
    out.global('torch._utils', '_rebuild_tensor_v2');
    out.op(OP_MARK);
    // The persistent id: ('storage', storage class, key, location, element count).
    out.op(OP_MARK);
    out.value('storage');
    out.global('torch', data instanceof Float32Array ? 'FloatStorage' : 'LongStorage');
    out.value(key);
    out.value('cpu');
    out.value(data.length);
    out.op(OP_TUPLE, OP_BINPERSID);
    // storage_offset, size, stride, requires_grad, backward_hooks.
    out.value(0);
    out.value(new PyTuple(shape));
    out.value(new PyTuple(contiguousStrides(shape)));
    out.value(false);
    out.global('collections', 'OrderedDict');
    out.op(OP_EMPTY_TUPLE, OP_REDUCE);
    out.op(OP_TUPLE, OP_REDUCE);
  };
  const pickle = pickleData(root, path, (v, out) => {
    if (!(v instanceof TorchTensor)) return false;
    writeTensor(v, out);
    return true;
  });
  const entries: ZipPart[] = [
    { name: `${ARCHIVE}/data.pkl`, data: pickle },
    { name: `${ARCHIVE}/byteorder`, data: new TextEncoder().encode('little') },
    ...[...storages].map(([data, key]) => ({ name: `${ARCHIVE}/data/${key}`, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) })),
    { name: `${ARCHIVE}/version`, data: new TextEncoder().encode('3\n') },
  ];
  return encodeStoredZip(path, entries);
}
