// Runs every compiled *.test.js under dist/test in one process (uvu's own CLI would leave Dawn
// holding the event loop open), then releases the shared GPU, prints the five slowest files and one
// closing line `N passed, M failed, K skipped` with every skip's reason, and exits with uvu's
// verdict. With CI set, a skip marked as required in CI (see helpers/skip.ts) fails the run.
// Usage: node dist/test/run.js [substring-filter ...]
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closeTestGpu } from './helpers/gpu.js';
import { skipped } from './helpers/skip.js';

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

type SuiteRun = () => Promise<[string | true, number, number, number]>;
const g = globalThis as unknown as { UVU_DEFER: number; UVU_INDEX: number; UVU_QUEUE: [string, ...SuiteRun[]][] };
g.UVU_DEFER = 1;
const uvu = await import('uvu');
for (const [index, file] of files.entries()) {
  g.UVU_INDEX = index;
  g.UVU_QUEUE.push([relative(here, file)]);
  await import(pathToFileURL(file).href);
}
// Count what uvu ran: each suite run returns [errors, passed, skipped, ran].
let passed = 0;
let failed = 0;
let skips = 0;
const secondsPerFile = new Map<string, number>();
for (const group of g.UVU_QUEUE) {
  const file = group[0];
  for (let i = 1; i < group.length; i++) {
    const suiteRun = group[i] as SuiteRun;
    group[i] = async () => {
      const started = performance.now();
      const result = await suiteRun();
      secondsPerFile.set(file, (secondsPerFile.get(file) ?? 0) + (performance.now() - started) / 1000);
      passed += result[1];
      failed += result[3] - result[1];
      skips += result[2];
      return result;
    };
  }
}
await uvu.exec(false);
await closeTestGpu();

// The slowest files, so that the suite's time stays in view (it must stay well under 15 minutes).
const slowest = [...secondsPerFile].sort((a, b) => b[1] - a[1]).slice(0, 5);
console.log(`slowest: ${slowest.map(([file, s]) => `${file} ${s.toFixed(0)} s`).join(', ')}`);
for (const s of skipped) console.log(`skipped${s.requiredInCi ? ' (required in CI)' : ''}: ${s.test}: ${s.reason}`);
console.log(`${passed} passed, ${failed} failed, ${skips} skipped`);
const requiredSkips = skipped.filter((s) => s.requiredInCi);
if (process.env.CI && requiredSkips.length > 0) {
  console.error(`CI: ${requiredSkips.length} test(s) required in CI were skipped`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
