#!/usr/bin/env node
// The CLI entry: runs the compiled command, then exits explicitly (Dawn would keep Node alive).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('rcae: not built yet; run `npm run setup` in the package directory first\n');
  process.exit(1);
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { main } = await import(entry.href);
process.exit(await main(process.argv.slice(2)));
