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

/** A file under ../shared/datasets (CI has them: a copy of shared/ lies beside every clone). */
export function datasetPath(name: string): string {
  return join(repoRoot, '..', 'shared', 'datasets', name);
}

/** Why a dataset test must skip, or null when the file is there. */
export function datasetMissing(name: string): string | null {
  return existsSync(datasetPath(name)) ? null : `../shared/datasets/${name} is not there`;
}
