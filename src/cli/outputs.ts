// Output paths are checked before any work starts, so a command that would fail at its last step
// (a missing folder, a path that is a directory, an output that is one of the inputs) fails in its
// first second instead, and never after overwriting or half-writing anything.
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './args.js';

export interface OutputPath {
  path: string;
  /** The option that named it, for the error: 'out', 'grid', ... */
  option: string;
}

/** The path with symbolic links resolved where it exists, so two names of one file compare equal. */
function identity(path: string): string {
  const full = resolve(path);
  try {
    return realpathSync(full);
  } catch {
    try {
      return resolve(realpathSync(dirname(full)), full.slice(dirname(full).length + 1));
    } catch {
      return full;
    }
  }
}

export function checkOutputPaths(outputs: readonly OutputPath[], inputs: readonly string[] = []): void {
  const inputIds = new Map(inputs.map((p) => [identity(p), p]));
  const seen = new Map<string, string>();
  for (const { path, option } of outputs) {
    const dir = dirname(resolve(path));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--${option} ${path}: directory ${dir} does not exist`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new UsageError(`--${option} ${path}: directory ${dir} is not writable`);
    }
    if (existsSync(path) && !statSync(path).isFile()) throw new UsageError(`--${option} ${path}: exists and is not a regular file`);
    const id = identity(path);
    const input = inputIds.get(id);
    if (input !== undefined) throw new UsageError(`--${option} ${path}: is the input ${input}; refusing to overwrite an input`);
    const other = seen.get(id);
    if (other !== undefined) throw new UsageError(`--${option} ${path}: is also the output of --${other}`);
    seen.set(id, option);
  }
}
