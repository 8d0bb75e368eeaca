// The one weights file every peer reads: a checkpoint or safetensors file with canonical state-dict
// names, read through the project's own (non-executing, bounds-checked) reader. Peers take names as
// they are: mapping an unknown checkpoint onto canonical names is the engine's job, done once by
// the parent before it writes the canonical file the children share.
import type { Architecture } from '../../src/graph/architecture.js';
import { elementCount, parameterList } from '../../src/graph/architecture.js';
import '../../src/node/node-platform.js';
import { readCheckpoint } from '../../src/weights/checkpoint.js';
import { WeightsFormatError, formatShape } from '../../src/weights/format-error.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import type { TensorToWrite } from '../../src/weights/safetensors.js';
import type { Params } from './folding.js';

/** The metadata key under which the architecture travels with the weights (same as `rcae convert`). */
export const ARCHITECTURE_METADATA_KEY = 'rcae.architecture';

/** Every tensor the architecture needs except BatchNorm's batch counter, in canonical order. */
function neededTensors(arch: Architecture) {
  return parameterList(arch).filter((p) => p.role !== 'bn.num_batches_tracked');
}

export async function readCanonicalParams(path: string, arch: Architecture): Promise<Map<string, Float32Array>> {
  const ckpt = await readCheckpoint(path);
  const params = new Map<string, Float32Array>();
  const missing: string[] = [];
  for (const spec of neededTensors(arch)) {
    const t = ckpt.tensors.get(spec.name);
    if (!t) {
      missing.push(spec.name);
      continue;
    }
    if (formatShape(t.shape) !== formatShape(spec.shape)) {
      throw new WeightsFormatError(path, `tensor ${spec.name} has shape ${formatShape(t.shape)}, the architecture needs ${formatShape(spec.shape)}`);
    }
    params.set(spec.name, t.toFloat32());
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? `, ... (${missing.length} in all)` : '');
    throw new WeightsFormatError(path, `lacks canonical tensors ${shown}; benchmark peers read canonical names only (write them with \`rcae convert\`)`);
  }
  return params;
}

/** Writes `params` as canonical float32 safetensors with the architecture in its metadata. */
export async function writeCanonicalSafetensors(path: string, arch: Architecture, params: Params): Promise<void> {
  const tensors: TensorToWrite[] = neededTensors(arch).map((spec) => {
    const data = params.get(spec.name);
    if (!data || data.length !== elementCount(spec.shape)) {
      throw new Error(`cannot write ${path}: parameter ${spec.name} is ${data ? `${data.length} values, expected ${elementCount(spec.shape)}` : 'missing'}`);
    }
    return { name: spec.name, shape: spec.shape, data };
  });
  await writeSafetensors(path, tensors, { [ARCHITECTURE_METADATA_KEY]: JSON.stringify(arch) });
}
