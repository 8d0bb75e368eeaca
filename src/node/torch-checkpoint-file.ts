// Writes a torch.save-compatible checkpoint atomically (never a partial file).
import type { PickleData } from '../weights/pickle-writer.js';
import { encodeTorchSave } from '../weights/torch-save.js';
import { writePartsAtomically } from './write-parts.js';

export async function writeTorchCheckpoint(path: string, root: PickleData): Promise<void> {
  await writePartsAtomically(path, encodeTorchSave(path, root));
}
