// Paths to committed fixtures and the shared datasets, from the compiled test (dist/test/<dir>/).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export function fixturePath(...parts: string[]): string {
  return join(repoRoot, 'test', 'fixtures', ...parts);
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** A file under ../shared/datasets, or null (tests skip with a message) when it is not there. */
export function datasetPath(name: string): string | null {
  const path = join(repoRoot, '..', 'shared', 'datasets', name);
  return existsSync(path) ? path : null;
}
