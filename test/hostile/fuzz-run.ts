// `npm run fuzz`: the reader properties of the test suite at 10x their case counts (over 100,000
// cases, minutes), outside `npm test`. Prints one line per reader and a JSON summary to keep in
// docs/results.md. Usage: node dist/test/hostile/fuzz-run.js [scale] (RCAE_TEST_SEED replays).
import '../../src/node/node-platform.js';
import { SEED } from '../helpers/random.js';
import { runReaderProperties } from './properties.js';

const scale = Number(process.argv[2] ?? 10);
console.log(`fuzz: seed ${SEED}, scale ${scale}`);
const results = await runReaderProperties(SEED, scale);
for (const r of results) console.log(`${r.name.padEnd(20)} ${String(r.runs).padStart(7)} cases ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.failed ?? 'ok'}`);
const total = results.reduce((n, r) => n + r.runs, 0);
const failed = results.filter((r) => r.failed).length;
console.log(JSON.stringify({ seed: SEED, scale, cases: total, seconds: Math.round(results.reduce((n, r) => n + r.ms, 0) / 1000), failedReaders: failed, date: new Date().toISOString() }));
process.exit(failed ? 1 : 0);
