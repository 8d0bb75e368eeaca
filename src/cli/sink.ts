// Where textual command output goes: stdout, or a file that appears only once complete. Writes to
// a pipe are asynchronous and the CLI ends with process.exit: what is still queued for stdout is
// flushed before the command returns, or a slow reader would get the first rows only.

import { once } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { writeAtomically } from '../node/atomic.js';

/** Writes one piece of the output. */
export type TextWriter = (text: string) => void;

const stdoutDrained = async (): Promise<void> => {
  if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
};

/** Resolves once everything written to stdout so far has left the process (writes complete in order). */
const stdoutFlushed = (): Promise<void> => new Promise((resolve) => process.stdout.write('', () => resolve()));

/**
 * Runs `produce` with a writer to stdout (no path) or to `path`, written atomically. A producer of
 * many rows awaits `drained` now and then, so a slow reader holds back the producer, not memory.
 */
export async function withTextOutput(path: string | undefined, produce: (out: TextWriter, drained: () => Promise<void>) => Promise<void>): Promise<void> {
  if (!path) {
    await produce((text) => process.stdout.write(text), stdoutDrained);
    await stdoutFlushed();
    return;
  }
  await writeAtomically(path, async (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      await produce((text) => writeSync(fd, text), async () => {});
    } finally {
      closeSync(fd);
    }
  });
}
