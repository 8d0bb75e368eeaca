#!/usr/bin/env node
// The CLI entry: runs the compiled command (through src/cli/launch.ts, which keeps Dawn's native
// notices off stderr), then exits explicitly (Dawn would keep Node alive).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/launch.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('rcae: not built yet; run `npm run setup` in the package directory first\n');
  process.exit(1);
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { launch } = await import(entry.href);
process.exit(await launch(process.argv.slice(2), fileURLToPath(import.meta.url)));
