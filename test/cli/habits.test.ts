// The CLI's habits, through the real binary: `-` for standard input, -o, --json, "did you mean",
// negative numbers as option values, plain messages for a missing --model and an unwritable
// output (naming the user's path, never the temporary one), `help CMD`, -v.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closest } from '../../src/cli/suggest.js';
import { fixture, repoRoot, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const scene = join(repoRoot, 'samples', 'scene-1.png');
const npy = fixture('model', 'w8', 'input-cifar.npy');

function withStdin(args: string[], input: Buffer) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), ...args], { input, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A usage or runtime error: the exit status and exactly one line on stderr. */
function oneLine(r: { status: number | null; stderr: string }, status: number): string {
  assert.is(r.status, status, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  return lines[0];
}

const rows = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l));

test('- reads an image or a .npy from standard input, scored like the file itself', () => {
  const byPath = rows(rcae(['score', '--json', scene, npy]).stdout);
  const image = withStdin(['score', '--json', '-'], readFileSync(scene));
  assert.is(image.status, 0, image.stderr);
  assert.equal(rows(image.stdout), [{ ...byPath[0], input: '-' }]);
  const tensor = withStdin(['detect', '--json', '-'], readFileSync(npy));
  assert.is(tensor.status, 0, tensor.stderr);
  assert.equal(rows(tensor.stdout).map((r) => r.error), byPath.slice(1).map((r) => r.error));
  assert.match(oneLine(withStdin(['score', '-'], Buffer.from('neither')), 1), /^rcae score: standard input: cannot decode image/);
  assert.match(oneLine(withStdin(['score', '-', '-'], Buffer.alloc(0)), 1), /standard input can be given once/);
});

test('-o writes the rows to a file; --json is --format jsonl, and calibrate --json prints its document', () => {
  const dir = tempDir();
  const out = join(dir, 'rows.jsonl');
  const r = rcae(['detect', '-o', out, scene]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.equal(rows(readFileSync(out, 'utf8')).map((x) => x.input), [scene]);
  assert.match(oneLine(rcae(['score', '--json', '--format', 'csv', scene]), 2), /--json and --format csv disagree/);
  const thresholds = join(dir, 't.json');
  const calibrated = rcae(['calibrate', '--model', fixture('model', 'w8', 'model-published.ckpt'), '--real', npy, '--synthetic', 'noise:4', '-o', thresholds, '--json']);
  assert.is(calibrated.status, 0, calibrated.stderr);
  assert.is(calibrated.stdout, readFileSync(thresholds, 'utf8'), 'calibrate --json prints the document it writes');
});

test('mistyped commands and options get a suggestion; bad values a plain line', () => {
  assert.is(oneLine(rcae(['scroe', scene]), 2), "rcae: unknown command 'scroe'; did you mean score? (rcae --help lists them)");
  assert.is(oneLine(rcae(['score', '--formt', 'csv', scene]), 2), 'rcae score: unknown option --formt; did you mean --format? (see rcae score --help)');
  assert.is(oneLine(rcae(['detect', '--fail', scene]), 2), 'rcae detect: unknown option --fail; did you mean --fail-on-fake? (see rcae detect --help)');
  assert.is(oneLine(rcae(['score', '--model']), 2), 'rcae score: --model needs a value (see rcae score --help)');
  assert.is(oneLine(rcae(['score', '--batch', '-3', scene]), 2), "rcae score: --batch must be an integer >= 1, got '-3'");
  assert.match(oneLine(rcae(['detect', '--level', '-0.5', scene]), 2), /^rcae detect: --level: .*'-0\.5'/);
  assert.is(closest('xyzzy', ['score', 'detect']), undefined);
  assert.is(closest('inf', ['info', 'inspect']), 'info');
});

test('a missing --model and an unwritable output are named as the user gave them', () => {
  const dir = tempDir();
  const missing = join(dir, 'nope.ckpt');
  assert.is(oneLine(rcae(['score', '--model', missing, scene]), 1), `rcae score: ${missing}: cannot read: no such file`);
  const out = join(dir, 'no-such-folder', 'rows.jsonl');
  const refused = oneLine(rcae(['score', '-o', out, scene]), 2);
  assert.ok(refused.startsWith(`rcae score: --out ${out}: `) && !refused.includes('.tmp-'), refused);
  assert.ok(!existsSync(join(dir, 'no-such-folder')));
  assert.equal(readdirSync(dir), []);
});

test('help CMD is CMD --help; -v and --version print the version', () => {
  const help = rcae(['help', 'detect']);
  assert.is(help.status, 0);
  assert.is(help.stdout, rcae(['detect', '--help']).stdout);
  const version = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
  for (const flag of ['-v', '--version']) assert.is(rcae([flag]).stdout, `${version}\n`);
});

test.run();
