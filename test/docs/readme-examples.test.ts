// The README's two examples work as printed: its CLI example, run, gives the rows it shows, and its
// API example, run as a module of the package, prints the line its comment shows (labels equal,
// numbers within 1e-4 relative: another adapter may round differently).
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';
import { read } from './markdown.js';

const readme = read('README.md');

/** The fenced block that follows `## <heading>`. */
function block(heading: string): { lang: string; body: string } {
  const m = new RegExp(`\\n## ${heading}\\n[\\s\\S]*?\\n\`\`\`(\\w*)\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(readme);
  assert.ok(m, `README.md has a code block under "${heading}"`);
  return { lang: m[1], body: m[2] };
}

/** Cells equal, except numbers, which agree within 1e-4 relative. */
function sameRow(actual: string[], expected: string[], what: string): void {
  assert.is(actual.length, expected.length, what);
  expected.forEach((cell, i) => {
    const want = Number(cell);
    if (cell !== '' && Number.isFinite(want) && !/^\d+$/.test(cell)) {
      assert.ok(Math.abs(Number(actual[i]) - want) <= 1e-4 * Math.abs(want), `${what}: ${actual[i]} vs ${cell}`);
    } else assert.is(actual[i], cell, what);
  });
}

test('the CLI example prints the rows the README shows', () => {
  const { lang, body } = block('One CLI example');
  assert.is(lang, 'sh');
  const [command, ...expected] = body.split('\n');
  assert.match(command, /^\$ npx rcae /);
  const run = rcae(command.replace(/^\$ npx rcae /, '').split(/\s+/), {});
  assert.is(run.status, 0, run.stderr);
  const rows = run.stdout.trimEnd().split('\n');
  assert.is(rows.length, expected.length, run.stdout);
  rows.forEach((row, i) => sameRow(row.split(','), expected[i].split(','), `row ${i}`));
});

test('the API example runs as a module of the package and prints what its comment says', () => {
  const { lang, body } = block('One API example');
  assert.is(lang, 'js');
  const shown = /^\/\/ (.+)$/m.exec(body.split('console.log')[1] ?? '');
  assert.ok(shown, 'the example shows its output in a comment after console.log');
  // Inside the package, so that `import ... from 'rcae-webgpu'` resolves to this checkout.
  const file = join(repoRoot, 'dist', `readme-example-${process.pid}.mjs`);
  writeFileSync(file, body);
  try {
    const run = spawnSync(process.execPath, [file], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
    assert.is(run.status, 0, run.stderr);
    sameRow(run.stdout.trim().split(' '), shown[1].split(' '), 'output');
  } finally {
    rmSync(file, { force: true });
  }
});

test.run();
