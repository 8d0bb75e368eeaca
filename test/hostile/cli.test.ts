// Issue 11, classes 3-6 through the real CLI: fail-closed labels, outputs committed together and
// checked before work, control characters from files escaped, and one stderr line naming the file.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, tempDir } from '../helpers/paths.js';
import { rcae, type CliResult } from '../helpers/rcae.js';
import { float32Npy, safetensorsOf } from './build.js';

const test = suite('hostile/cli');
const tmp = tempDir('rcae-hostile-cli-');
const model = fixture('model', 'w8', 'model-published.ckpt');
// Dawn's Vulkan backend prints these on lavapipe when the adapter is created; they are not ours.
const DAWN_NOTICE = /^Warning: maxDynamic\w+ artificially reduced/;

/** The stderr lines that are rcae's own. */
const ownLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l && !DAWN_NOTICE.test(l));

function failsWithOneLine(r: CliResult, status: number, pattern: RegExp): void {
  const lines = ownLines(r);
  assert.is(r.status, status, `exit ${r.status}: ${r.stderr}`);
  assert.is(lines.length, 1, `one line on stderr: ${r.stderr}`);
  assert.match(lines[0], pattern);
}

const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

test('a non-finite error is INVALID, never REAL: counted, listed, and a failure under --fail-on-fake', () => {
  const nan = join(tmp, 'nan.npy');
  writeFileSync(nan, float32Npy(2, 128, NaN));
  const inf = join(tmp, 'inf.npy');
  writeFileSync(inf, float32Npy(1, 128, Infinity));
  const zero = join(tmp, 'zero.npy');
  writeFileSync(zero, float32Npy(1, 128, 0));
  const r = rcae(['detect', '--model', model, '--level', '1e9', '--format', 'jsonl', '--fail-on-fake', zero, nan, inf]);
  assert.is(r.status, 3, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.map((x) => x.label), ['REAL', 'INVALID', 'INVALID', 'INVALID']);
  for (const row of rows.slice(1)) {
    assert.is(row.error, null);
    assert.match(row.reason, /^reconstruction error is (NaN|Infinity) \(the input or the model holds non-finite values\)$/);
  }
  assert.match(r.stderr, /0 of 4 flagged FAKE .*; 3 INVALID \(error not finite\):/);
  assert.match(r.stderr, /nan\.npy: reconstruction error is NaN/);
  const plain = rcae(['detect', '--model', model, '--level', '1e9', '--format', 'csv', zero, nan]);
  assert.is(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout.trim().split('\n').map((l) => l.split(',').pop()), ['label', 'REAL', 'INVALID', 'INVALID']);
});

test('file names with control characters reach no terminal raw, in csv, table or jsonl', async () => {
  const dir = join(tmp, 'names');
  execFileSync('mkdir', ['-p', dir]);
  const hostile = 'a\x1b[2Jb\x9b31m,"q".png';
  await sharp(Buffer.alloc(8 * 8 * 3, 128), { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(join(dir, hostile));
  for (const format of ['csv', 'table', 'jsonl']) {
    const r = rcae(['score', '--model', model, '--format', format, dir]);
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stdout, RAW_CONTROL, `${format}: ${JSON.stringify(r.stdout)}`);
    if (format === 'csv') assert.match(r.stdout, /\n"[^\n]*a\\x1b\[2Jb\\x9b31m,""q""\.png",0,/);
    if (format === 'jsonl') assert.is(JSON.parse(r.stdout.trim()).input, join(dir, hostile));
  }
});

test('a file name that is not valid UTF-8 is warned about, never skipped silently', async () => {
  const dir = join(tmp, 'latin1');
  execFileSync('mkdir', ['-p', dir]);
  const png = await sharp(Buffer.alloc(8 * 8 * 3, 30), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
  writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.png')]), png);
  writeFileSync(join(dir, 'ok.png'), png);
  const r = rcae(['score', '--model', model, '--format', 'jsonl', dir]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').map((l) => JSON.parse(l).input), [join(dir, 'ok.png')]);
  assert.match(r.stderr, /rcae: warning: .*caf\ufffd\.png: file name is not valid UTF-8; skipped/);
});

test('inspect escapes tensor names and metadata from the file, and reports a failure on stderr', () => {
  const name = '\x1b[2J\rrcae inspect: forged';
  const header = { __metadata__: { 'key\nwith newline': 'value\x1b]0;title\x07' }, [name]: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const path = join(tmp, 'names.safetensors');
  writeFileSync(path, safetensorsOf(header, new Uint8Array(8)));
  const r = rcae(['inspect', path]);
  assert.not.match(r.stdout, RAW_CONTROL, JSON.stringify(r.stdout));
  assert.match(r.stdout, /\\x1b\[2J\\rrcae inspect: forged/);
  assert.match(r.stdout, /metadata key\\nwith newline: value\\x1b\]0;title\\x07/);
  failsWithOneLine(r, 1, new RegExp(`^rcae inspect: ${path.replace(/[.]/g, '\\.')}: architecture not resolved: `));
  const json = rcae(['inspect', '--json', path]);
  assert.not.match(json.stdout, RAW_CONTROL);
  assert.ok(Object.keys(JSON.parse(json.stdout).metadata).includes('key\nwith newline'));
});

test('special files and directories given as model, thresholds or input fail with one line naming them', () => {
  failsWithOneLine(rcae(['inspect', '/dev/zero']), 1, /^rcae inspect: \/dev\/zero: is a character device, not a regular file/);
  failsWithOneLine(rcae(['inspect', tmp]), 1, new RegExp(`^rcae inspect: ${tmp}: is a directory, not a regular file`));
  failsWithOneLine(rcae(['detect', '--thresholds', '/dev/zero', join(tmp, 'x.png')]), 1, /^rcae detect: \/dev\/zero: is a character device/);
  const fifo = join(tmp, 'fifo.npy');
  execFileSync('mkfifo', [fifo]);
  failsWithOneLine(rcae(['score', '--model', model, fifo]), 1, new RegExp(`^rcae score: ${fifo}: is a FIFO, not a regular file`));
});

test('outputs: paths checked before work, an input never overwritten, several outputs all or nothing', async () => {
  const image = join(tmp, 'in.png');
  await sharp(Buffer.alloc(8 * 8 * 3, 60), { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(image);
  const before = readFileSync(image);
  failsWithOneLine(rcae(['score', '--model', model, '--out', image, image]), 2, /--out .*in\.png: is the input .*in\.png; refusing to overwrite an input/);
  assert.equal(readFileSync(image), before);
  failsWithOneLine(rcae(['score', '--model', model, '--out', model, image]), 2, /refusing to overwrite an input/);

  const work = join(tmp, 'out');
  execFileSync('mkdir', ['-p', work]);
  const r = rcae(['reconstruct', '--model', model, '--out', join(work, 'R.npy'), '--grid', join(work, 'missing', 'G.png'), image]);
  failsWithOneLine(r, 2, /--grid .*G\.png: directory .*missing does not exist/);
  const c = rcae(['calibrate', '--model', model, '--real', image, '-o', join(work, 'T.json'), '--plot', join(work, 'missing', 'P.png')]);
  failsWithOneLine(c, 2, /--plot .*P\.png: directory .*missing does not exist/);
  const d = rcae(['reconstruct', '--model', model, '--out', join(work, 'R.npy'), '--grid', work, image]);
  failsWithOneLine(d, 2, /must name a \.png file|exists and is not a regular file/);
  assert.equal(readdirSync(work), []);

  const both = rcae(['reconstruct', '--model', model, '--out', join(work, 'R.npy'), '--grid', join(work, 'G.png'), image]);
  assert.is(both.status, 0, both.stderr);
  assert.equal(readdirSync(work).sort(), ['G.png', 'R.npy']);
});

test.run();
