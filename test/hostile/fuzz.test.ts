// Issue 11, class 8 in `npm test`: every reader's property (properties.ts) over about 14,000
// generated cases, seeded; replay a failure with RCAE_TEST_SEED=<seed> (printed below).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../../src/node/node-platform.js';
import { SEED } from '../helpers/random.js';
import { runReaderProperties } from './properties.js';

const test = suite('hostile/fuzz');

test(`every reader returns a value or its typed one-line error naming the file (seed ${SEED})`, async () => {
  console.log(`hostile/fuzz: seed ${SEED} (replay with RCAE_TEST_SEED=${SEED})`);
  const results = await runReaderProperties(SEED, 1);
  const total = results.reduce((n, r) => n + r.runs, 0);
  console.log(`hostile/fuzz: ${total} cases in ${(results.reduce((n, r) => n + r.ms, 0) / 1000).toFixed(1)} s: ${results.map((r) => `${r.name} ${r.runs}`).join(', ')}`);
  assert.equal(results.filter((r) => r.failed).map((r) => `${r.name}: ${r.failed}`), []);
  assert.ok(total >= 10_000, `${total} cases`);
});

test.run();
