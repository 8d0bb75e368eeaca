// A tiny model file (base width 2, 32 x 32 inputs, random weights) for tests whose subject is the
// code around the model (the service, the input pipeline), not its numbers: a pass over 8 samples
// takes ~10 ms on lavapipe against ~100 ms for the w=4 fixture, so thousands of requests fit in seconds.
import { join } from 'node:path';
import { parameterList, referenceArchitecture } from '../../src/graph/architecture.js';
import { randomParams } from '../../src/graph/random-params.js';
import { ARCHITECTURE_METADATA_KEY } from '../../src/model.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';

/** Writes the tiny model into `dir`; its path. */
export async function writeTinyModel(dir: string, seed = 3): Promise<string> {
  const arch = { ...referenceArchitecture(2), imageSize: 32, latentDim: 16 };
  const shapes = new Map(parameterList(arch).map((p) => [p.name, p.shape]));
  const path = join(dir, 'tiny.safetensors');
  const tensors = [...randomParams(arch, seed)].map(([name, data]) => ({ name, shape: shapes.get(name)!, data }));
  await writeSafetensors(path, tensors, { [ARCHITECTURE_METADATA_KEY]: JSON.stringify(arch) });
  return path;
}
