// Output files appear whole or not at all: everything is written to a temporary sibling and renamed
// into place; temporaries still pending when the process is interrupted are removed.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const pending = new Set<string>();
let hooked = false;

function removePending() {
  for (const p of pending) rmSync(p, { force: true });
  pending.clear();
}

function hookSignals() {
  if (hooked) return;
  hooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      removePending();
      process.stderr.write(`\nrcae: interrupted (${signal}); no output written\n`);
      process.exit(130);
    });
  }
  process.once('exit', removePending);
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'its folder does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/** An error that names the user's path, never the temporary one the failure happened on. */
function userFacing(err: unknown, tmp: string, path: string): unknown {
  if (!(err instanceof Error) || !err.message.includes(tmp)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code ? (FS_REASONS[code] ?? code) : err.message.split(tmp).join(path);
  return new Error(`${path}: cannot write: ${reason}`, { cause: err });
}

/** Runs `write(tmp)` and renames tmp to `path` when it succeeds; removes tmp when it fails. */
export async function writeAtomically(path: string, write: (tmp: string) => void | Promise<void>): Promise<void> {
  hookSignals();
  const tmp = tempPathFor(path);
  pending.add(tmp);
  try {
    await write(tmp);
    renameSync(tmp, path);
  } catch (err) {
    throw userFacing(err, tmp, path);
  } finally {
    pending.delete(tmp);
    rmSync(tmp, { force: true });
  }
}

/** writeFileAtomically for callers that cannot await: the same temporary name, cleanup and errors. */
export function writeFileAtomicallySync(path: string, data: string | Uint8Array): void {
  hookSignals();
  const tmp = tempPathFor(path);
  pending.add(tmp);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    throw userFacing(err, tmp, path);
  } finally {
    pending.delete(tmp);
    rmSync(tmp, { force: true });
  }
}

export async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  writeFileAtomicallySync(path, data);
}
