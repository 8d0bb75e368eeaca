// The TypeScript sources under a folder, for the tests that read the code itself (imports, errors).
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { repoRoot } from './paths.js';

/** Every .ts file below `dir` (no .d.ts), in a stable order. */
export function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield p;
  }
}

/** A path relative to the repository, with forward slashes. */
export const rel = (p: string) => relative(repoRoot, p).split(sep).join('/');
