// `npm start` runs `rcae demo`: the bundled default model and thresholds on the bundled samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rcae } from '../helpers/rcae.js';

test('demo labels every bundled sample with the bundled model; the noise images are FAKE', () => {
  const r = rcae(['demo']);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/));
  assert.is(rows.length, 6);
  for (const [input, , error, threshold, label] of rows) {
    assert.ok(Number.isFinite(Number(error)) && Number(threshold) > 0, input);
    assert.is(label, Number(error) > Number(threshold) ? 'FAKE' : 'REAL', input);
    if (input.includes('noise')) assert.is(label, 'FAKE', input);
  }
  assert.match(r.stderr, /\d of 6 flagged FAKE/);
});

test.run();
