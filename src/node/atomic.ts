// Output files appear whole or not at all: everything is written to a temporary sibling and renamed
// into place; temporaries still pending when the process is interrupted are removed. A command with
// several outputs stages them all in an OutputSet and renames them only once every one is written.

import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';

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
  return new InputError(`${path}: cannot write: ${reason}`, { cause: err, subject: path });
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

/**
 * The outputs of one command, committed together: each is written to a temporary sibling, and only
 * when all are written are they renamed into place, so a failure leaves none of them behind. A
 * rename that fails during the commit undoes the ones before it: files that existed are moved aside
 * first and put back, so the outputs appear all together or the old files stay as they were.
 */
export class OutputSet {
  private readonly staged: { tmp: string; path: string }[] = [];

  constructor() {
    hookSignals();
  }

  /** Runs `write(tmp)` for `path`; the file appears at `path` only on commit(). */
  async stage(path: string, write: (tmp: string) => unknown): Promise<void> {
    const tmp = tempPathFor(path);
    pending.add(tmp);
    this.staged.push({ tmp, path });
    await write(tmp);
  }

  commit(): void {
    const done: { path: string; old: string | null }[] = [];
    try {
      for (const { tmp, path } of this.staged) {
        const old = existsSync(path) ? `${tmp}.old` : null;
        if (old) renameSync(path, old);
        done.push({ path, old });
        renameSync(tmp, path);
      }
    } catch (err) {
      // Put back what was there, newest first.
      for (const { path, old } of done.reverse()) {
        rmSync(path, { force: true });
        if (old) renameSync(old, path);
      }
      throw err;
    }
    for (const { old } of done) if (old) rmSync(old, { force: true });
    for (const { tmp } of this.staged) pending.delete(tmp);
    this.staged.length = 0;
  }

  /** Removes whatever was staged and not committed; safe to call after commit(). */
  discard(): void {
    for (const { tmp } of this.staged) {
      pending.delete(tmp);
      rmSync(tmp, { force: true });
    }
    this.staged.length = 0;
  }
}

/** Runs `produce` with a fresh OutputSet, commits it when `produce` succeeds, discards it when not. */
export async function withOutputSet<T>(produce: (outputs: OutputSet) => Promise<T>): Promise<T> {
  const outputs = new OutputSet();
  try {
    const result = await produce(outputs);
    outputs.commit();
    return result;
  } finally {
    outputs.discard();
  }
}
