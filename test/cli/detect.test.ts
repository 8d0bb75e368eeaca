// The detector through the real CLI on the w8 fixture: calibrate thresholds on real tensors against
// synthetic noise, then detect with them; labels, summary line, exit codes and the file layout.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const dir = fixture('model', 'w8');
const ckpt = join(dir, 'model-published.ckpt');
const real = join(dir, 'input-cifar.npy');

test('calibrate writes the published layout; detect applies it and reports k of N flagged', () => {
  const tmp = tempDir();
  const thresholds = join(tmp, 'thresholds.json');
  const cal = rcae(['calibrate', '--model', ckpt, '--real', real, '--synthetic', 'noise:4', '-o', thresholds]);
  assert.is(cal.status, 0, cal.stderr);
  const doc = JSON.parse(readFileSync(thresholds, 'utf8'));
  const levels = doc.reconstruction_thresholds.thresholds;
  assert.type(levels.optimal.value, 'number');

  // The percentile levels, recomputed here from `rcae score`'s errors with numpy's default (linear)
  // percentile: swapped levels or a wrong interpolation fail, not only a missing number.
  const scores = rcae(['score', '--model', ckpt, '--format', 'jsonl', real]).stdout.trim().split('\n').map((l) => JSON.parse(l).error as number);
  const ascending = [...scores].sort((a, b) => a - b);
  const percentile = (p: number) => {
    const h = ((ascending.length - 1) * p) / 100;
    const lo = Math.floor(h);
    return ascending[lo] + (h - lo) * ((ascending[lo + 1] ?? ascending[lo]) - ascending[lo]);
  };
  for (const [level, p] of [['strict', 99], ['balanced', 95], ['sensitive', 95.5]] as const) {
    const expected = percentile(p);
    assert.ok(Math.abs(levels[level].value - expected) <= 1e-9 * expected, `${level}: ${levels[level].value} vs percentile ${p} = ${expected}`);
    assert.is(levels[level].expected_fpr, scores.filter((e) => e > levels[level].value).length / scores.length, `${level} fpr`);
  }

  // A random-weight model reconstructs nothing well; what matters is that the threshold decides.
  const below = Math.max(...scores) * 2;
  const r = rcae(['detect', '--model', ckpt, '--level', String(below), '--format', 'jsonl', real]);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(Object.keys(rows[0]), ['input', 'index', 'error', 'threshold', 'label']);
  assert.ok(rows.every((x) => x.label === 'REAL' && x.threshold === below));
  assert.match(r.stderr, /0 of 4 flagged/);

  const sorted = [...scores].sort((a, b) => a - b);
  const middle = (sorted[1] + sorted[2]) / 2;
  const half = rcae(['detect', '--model', ckpt, '--level', String(middle), '--format', 'csv', real]);
  assert.is(half.status, 0);
  assert.match(half.stderr, /2 of 4 flagged/);
  assert.is(half.stdout.trim().split('\n').filter((l) => l.endsWith(',FAKE')).length, 2);
  const failing = rcae(['detect', '--model', ckpt, '--level', String(middle), '--fail-on-fake', real]);
  assert.is(failing.status, 3);

  const withFile = rcae(['detect', '--model', ckpt, '--thresholds', thresholds, '--level', 'strict', '--format', 'jsonl', real]);
  assert.is(withFile.status, 0, withFile.stderr);
  assert.ok(withFile.stdout.trim().split('\n').every((l) => JSON.parse(l).threshold === levels.strict.value));
});

test('detect without thresholds beside a custom model says what to do', () => {
  const r = rcae(['detect', '--model', ckpt, real]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--thresholds is required/);
});

test.run();
