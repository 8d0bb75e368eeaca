// Compiles the TypeScript and copies the WGSL sources next to the compiled kernels, so that
// dist/ is self-contained. Skips the compile when no source is newer than the last build.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield p;
  }
}

const sources = ['src', 'test', 'bench'].filter((d) => existsSync(join(root, d))).flatMap((d) => [...files(join(root, d))]);
const inputs = [...sources, join(root, 'tsconfig.json'), join(root, 'package.json')];
const newest = Math.max(...inputs.map((p) => statSync(p).mtimeMs));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;

if (process.argv.includes('--force') || newest > built) {
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'inherit' });
  } catch (err) {
    // tsc still emits on type errors; --allow-type-errors keeps that output for work in progress.
    if (!process.argv.includes('--allow-type-errors')) process.exit(1);
  }
  for (const p of sources) {
    if (p.endsWith('.wgsl') || p.endsWith('.json')) cpSync(p, join(root, 'dist', relative(root, p)));
  }
  writeFileSync(stamp, new Date().toISOString() + '\n');
}
