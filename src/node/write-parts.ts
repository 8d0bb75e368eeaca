// Writes a file from parts (a header, then views of large buffers) through a temporary file that
// is synced and renamed into place, so a crash or Ctrl-C never leaves a partial file.
import { open } from 'node:fs/promises';
import { writeAtomically } from './atomic.js';

export async function writePartsAtomically(path: string, parts: readonly Uint8Array[]): Promise<void> {
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
