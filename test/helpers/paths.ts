// Paths tests need, resolved from the compiled test location (dist/test/...) back to the repo.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const fixture = (...parts: string[]) => join(repoRoot, 'test', 'fixtures', ...parts);
export const datasets = join(repoRoot, '..', 'shared', 'datasets');
export const tempDir = (prefix = 'rcae-test-') => mkdtempSync(join(tmpdir(), prefix));
