// Runs every compiled *.test.js under dist/test in one process (uvu's own CLI would leave Dawn
// holding the event loop open), then releases the shared GPU and exits with uvu's verdict.
// Usage: node dist/test/run.js [substring-filter ...]
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closeTestGpu } from './helpers/gpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);

function* testFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* testFiles(path);
    else if (name.endsWith('.test.js')) yield path;
  }
}

const files = [...testFiles(here)].filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const g = globalThis as unknown as { UVU_DEFER: number; UVU_INDEX: number; UVU_QUEUE: [string][] };
g.UVU_DEFER = 1;
const uvu = await import('uvu');
for (const [index, file] of files.entries()) {
  g.UVU_INDEX = index;
  g.UVU_QUEUE.push([relative(here, file)]);
  await import(pathToFileURL(file).href);
}
await uvu.exec(false);
await closeTestGpu();
process.exit(process.exitCode ?? 0);
