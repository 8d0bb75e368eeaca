// Where textual command output goes: stdout, or a file that appears only once complete.

import { closeSync, openSync, writeSync } from 'node:fs';
import { writeAtomically } from '../pipeline/atomic.js';

/** Runs `produce` with a writer to stdout (no path) or to `path`, written atomically. */
export async function withTextOutput(path: string | undefined, produce: (out: (text: string) => void) => Promise<void>): Promise<void> {
  if (!path) {
    await produce((text) => process.stdout.write(text));
    return;
  }
  await writeAtomically(path, async (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      await produce((text) => writeSync(fd, text));
    } finally {
      closeSync(fd);
    }
  });
}
