// Writes a safetensors file through a temporary file that is renamed into place, so a crash or
// Ctrl-C never leaves a partial file.
import { open } from 'node:fs/promises';
import { writeAtomically } from './atomic.js';
import { encodeSafetensors, type TensorToWrite } from '../weights/safetensors.js';

export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Promise<void> {
  const parts = encodeSafetensors(path, tensors, metadata);
  await writeAtomically(path, async (tmp) => {
    const file = await open(tmp, 'w');
    try {
      for (const part of parts) await file.write(part);
      await file.sync();
    } finally {
      await file.close();
    }
  });
}
