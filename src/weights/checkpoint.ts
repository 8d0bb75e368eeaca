// Opens a weights file whatever its extension (torch.save zip or safetensors, told apart by their
// first bytes), finds the model's state dict inside whatever training script wrapped it, and
// returns its tensors by name with the scalars worth showing (epoch, hyper-parameters).
import { platform } from '../platform.js';
import { elementCount } from '../graph/architecture.js';
import { WeightsFormatError } from './format-error.js';
import { InertObject, PyTuple, pyTypeName, type PyValue } from './pickle.js';
import { looksLikeSafetensors, parseSafetensors } from './safetensors.js';
import { DTYPE_BYTES, StoredTensor, type HostTensor } from './tensor.js';
import { isTensorRef, unpickleTorch, type TensorRef } from './torch-pickle.js';
import { ZipArchive } from './zip.js';

export type { HostTensor, TensorDType } from './tensor.js';

export interface Checkpoint {
  path: string;
  format: 'torch-zip' | 'safetensors';
  /** State-dict tensors in file order, names with wrapper prefixes (module., model.) removed. */
  tensors: Map<string, HostTensor>;
  /** The top-level key the state dict was found under; null when the file is the state dict. */
  stateDictKey: string | null;
  metadata: Record<string, string>;
  /** Top-level keys that were ignored (optimizer state, objects that hold no plain values). */
  skipped: string[];
  /** What was removed from the front of every tensor name ('' when nothing). */
  keyPrefix: string;
}

export const STATE_DICT_KEYS = ['model_state_dict', 'state_dict', 'model'] as const;
const WRAPPER_PREFIXES = ['module.', 'model.', '_orig_mod.'];
const MAX_METADATA_ENTRIES = 256;
const MAX_METADATA_VALUE = 1024;
const LEGACY_HINT = 'legacy torch.save format not supported; re-save with torch>=1.6';

/** Largest weights file read (4 GiB, about what one ArrayBuffer holds in Node and in browsers). */
export const MAX_CHECKPOINT_BYTES = 2 ** 32;

/** Reads a checkpoint from a path (Node) or URL (browser, or http(s) anywhere). */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  return parseCheckpoint(await platform().readBytes(path, MAX_CHECKPOINT_BYTES), path);
}

/** Parses a checkpoint already in memory; `path` names it in errors. */
export function parseCheckpoint(bytes: Uint8Array, path: string): Checkpoint {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
  if (isZip) return readTorchZip(bytes, path);
  // Before the pickle test: a safetensors header length can start with the byte 0x80 too.
  if (looksLikeSafetensors(bytes)) {
    const st = parseSafetensors(bytes, path);
    const { tensors, prefix } = stripWrapperPrefixes(st.tensors);
    return { path, format: 'safetensors', tensors, stateDictKey: null, metadata: st.metadata, skipped: [], keyPrefix: prefix };
  }
  // Pre-1.6 torch.save wrote bare pickles (first byte PROTO) or, older still, a tar archive.
  const isTar = bytes.length >= 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar';
  if ((bytes.length > 1 && bytes[0] === 0x80 && bytes[1] <= 5) || isTar) throw new WeightsFormatError(path, LEGACY_HINT);
  throw new WeightsFormatError(path, 'not a checkpoint: expected a torch.save zip archive or a safetensors file');
}

function readTorchZip(bytes: Uint8Array, path: string): Checkpoint {
  const fail = (problem: string): never => {
    throw new WeightsFormatError(path, problem);
  };
  const zip = ZipArchive.open(bytes, path);
  // The archive's single top-level folder is named after the file stem (torch < 2) or 'archive'.
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) fail(pickles.length === 0 ? 'zip archive has no data.pkl: not a torch.save file' : 'zip archive has more than one data.pkl');
  const archive = pickles[0].slice(0, -'/data.pkl'.length);
  const order = `${archive}/byteorder`;
  if (zip.has(order) && new TextDecoder().decode(zip.read(order)) !== 'little') fail('big-endian torch checkpoints are not supported');

  const root = unpickleTorch(zip.read(pickles[0]), path);
  const found = findStateDict(root, path);
  const storages = new Map<string, Uint8Array>();
  const raw = new Map<string, HostTensor>();
  for (const [name, ref] of found.tensors) raw.set(name, materialise(zip, archive, storages, name, ref, path));
  checkViewBudget(raw, storages, bytes.length, path);
  const { tensors, prefix } = stripWrapperPrefixes(raw);
  const { metadata, skipped } = describeOthers(root, found.key);
  return { path, format: 'torch-zip', tensors, stateDictKey: found.key, metadata, skipped, keyPrefix: prefix };
}

/**
 * Many tensors may view one storage: tied weights twice, a hostile file thousands of times. The views
 * together may reach at most twice the bytes stored (the file, or its storages once inflated) plus
 * 1 MiB, so what `inspect` or a model load converts is bounded by the file.
 */
function checkViewBudget(tensors: ReadonlyMap<string, HostTensor>, storages: ReadonlyMap<string, Uint8Array>, fileBytes: number, path: string): void {
  const stored = Math.max(fileBytes, [...storages.values()].reduce((n, s) => n + s.length, 0));
  const budget = 2 * stored + (1 << 20);
  let reached = 0;
  for (const [name, t] of tensors) {
    reached += elementCount(t.shape) * DTYPE_BYTES[t.dtype];
    if (reached > budget) throw new WeightsFormatError(path, `tensor views reach more than ${budget} bytes by tensor ${name}, over twice the ${stored} bytes stored (storages shared by many tensors)`);
  }
}

function materialise(zip: ZipArchive, archive: string, storages: Map<string, Uint8Array>, name: string, ref: TensorRef, path: string): HostTensor {
  const { storage } = ref;
  if (storage.dtype === null) throw new WeightsFormatError(path, `tensor ${name} has storage type ${storage.typeName}, which rcae does not read`);
  let bytes = storages.get(storage.key);
  if (!bytes) {
    const entry = `${archive}/data/${storage.key}`;
    if (!zip.has(entry)) throw new WeightsFormatError(path, `storage ${storage.key} of tensor ${name} is missing from the archive`);
    bytes = zip.read(entry);
    storages.set(storage.key, bytes);
  }
  const needed = storage.numel * DTYPE_BYTES[storage.dtype];
  if (bytes.length < needed) throw new WeightsFormatError(path, `storage ${storage.key} of tensor ${name} holds ${bytes.length} bytes, its header says ${needed}`);
  return new StoredTensor(storage.dtype, ref.shape, bytes.subarray(0, needed), { source: path, name }, ref.strides, ref.storageOffset);
}

function tensorEntries(v: PyValue | undefined): Map<string, TensorRef> | null {
  if (!(v instanceof Map) || v.size === 0) return null;
  const out = new Map<string, TensorRef>();
  for (const [k, t] of v) {
    if (typeof k !== 'string' || !isTensorRef(t)) return null;
    out.set(k, t);
  }
  return out;
}

function findStateDict(root: PyValue, path: string): { key: string | null; tensors: Map<string, TensorRef> } {
  const top = tensorEntries(root);
  if (top) return { key: null, tensors: top };
  if (root instanceof Map) {
    for (const key of STATE_DICT_KEYS) {
      const tensors = tensorEntries(root.get(key));
      if (tensors) return { key, tensors };
    }
    const keys = [...root].slice(0, 20).map(([k, v]) => `${String(k)} (${pyTypeName(v)})`);
    const more = root.size > 20 ? `, ... (${root.size} in all)` : '';
    throw new WeightsFormatError(path, `no state dict found: top-level keys are ${keys.join(', ') || 'none'}${more}`);
  }
  throw new WeightsFormatError(path, `no state dict found: the file holds a ${pyTypeName(root)}, not a dict (save model.state_dict() instead)`);
}

/** Removes prefixes that every name shares because of a wrapper (DataParallel, Lightning, torch.compile). */
function stripWrapperPrefixes<T>(tensors: Map<string, T>): { tensors: Map<string, T>; prefix: string } {
  let prefix = '';
  let names = [...tensors.keys()];
  for (;;) {
    const p = WRAPPER_PREFIXES.find((w) => names.every((n) => n.startsWith(w) && n.length > w.length));
    if (!p) break;
    prefix += p;
    names = names.map((n) => n.slice(p.length));
  }
  if (prefix === '') return { tensors, prefix };
  return { tensors: new Map([...tensors.values()].map((t, i) => [names[i], t])), prefix };
}

function scalarText(v: PyValue): string | null {
  if (typeof v === 'string') return v.length > MAX_METADATA_VALUE ? `${v.slice(0, MAX_METADATA_VALUE)}...` : v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return null;
}

/** Named plain values one level inside a dict or an inert object (argparse.Namespace, AttributeDict). */
function fieldsOf(v: PyValue): [PyValue, PyValue][] {
  if (v instanceof Map) return [...v];
  if (!(v instanceof InertObject)) return [];
  // BUILD state is a dict, or (dict, slots) for classes with __slots__.
  const state = v.state instanceof PyTuple ? v.state.items[0] : v.state;
  return [...(state instanceof Map ? state : []), ...v.dictItems];
}

function describeOthers(root: PyValue, stateDictKey: string | null): { metadata: Record<string, string>; skipped: string[] } {
  const metadata: Record<string, string> = {};
  const skipped: string[] = [];
  if (stateDictKey === null || !(root instanceof Map)) return { metadata, skipped };
  let count = 0;
  const record = (key: string, value: string): void => {
    // defineProperty, not assignment: a key named __proto__ must stay a plain entry.
    if (count++ < MAX_METADATA_ENTRIES) Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
  };
  for (const [k, v] of root) {
    if (k === stateDictKey) continue;
    const key = String(k);
    const direct = scalarText(v);
    if (direct !== null) {
      record(key, direct);
      continue;
    }
    let kept = false;
    for (const [fk, fv] of fieldsOf(v)) {
      const text = scalarText(fv);
      if (typeof fk === 'string' && text !== null) {
        record(`${key}.${fk}`, text);
        kept = true;
      }
    }
    if (!kept) skipped.push(key);
  }
  return { metadata, skipped };
}
