// Writes a safetensors file through a temporary file that is renamed into place, so a crash or
// Ctrl-C never leaves a partial file.
import { encodeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { writePartsAtomically } from './write-parts.js';

export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Promise<void> {
  await writePartsAtomically(path, encodeSafetensors(path, tensors, metadata));
}
