// The package's version, for --version, provenance and benchmark records.
import { readFileSync } from 'node:fs';

/** The package version from package.json (read at run time so it cannot drift). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
