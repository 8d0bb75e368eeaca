// Quiet by default: Dawn's native notices are filtered out of the CLI's stderr (and shown with
// --verbose), and the progress line fits the terminal's width and is drawn only on a terminal.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DAWN_NOTICE, dawnNoticeFilter } from '../../src/cli/dawn-notices.js';
import { repoRoot } from '../helpers/paths.js';
import { random, SEED } from '../helpers/random.js';
import { rcae } from '../helpers/rcae.js';

const test = suite('cli/quiet');
const samples = join(repoRoot, 'samples');
const NOTICES = [
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n',
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n',
];
const KEPT = ['rcae detect: samples/x.png: cannot decode image\n', 'Warning: something rcae says\n', '\rscoring [##..] 1/6', '\rscoring [####] 6/6\x1b[K', '\n', 'Warning: maxDynamic but not the notice\n', '3 of 6 flagged FAKE\n'];

test('the filter drops whole notice lines, whatever the chunking, and keeps everything else in order', () => {
  const rng = random(SEED);
  for (let round = 0; round < 200; round++) {
    const pieces = Array.from({ length: rng.int(1, 12) }, () => (rng.next() < 0.4 ? rng.pick(NOTICES) : rng.pick(KEPT)));
    const text = pieces.join('');
    const want = pieces.filter((p) => !NOTICES.includes(p)).join('');
    let got = '';
    const filter = dawnNoticeFilter((t) => (got += t));
    for (let at = 0; at < text.length; ) {
      const size = rng.int(1, 40);
      filter.push(text.slice(at, at + size));
      at += size;
    }
    filter.flush();
    assert.is(got, want, `seed ${SEED}, round ${round}`);
  }
});

test('a progress update is passed on at once, not held back until a newline', () => {
  let got = '';
  const filter = dawnNoticeFilter((t) => (got += t));
  filter.push('\rscoring [#...] 1/4');
  assert.is(got, '\rscoring [#...] 1/4');
  filter.push('Warn');
  assert.is(got, '\rscoring [#...] 1/4', 'a possible notice waits');
  filter.push('ing: done\n');
  assert.is(got, '\rscoring [#...] 1/4Warning: done\n');
});

test('rcae detect prints nothing on stderr but its summary; --verbose adds only Dawn\'s lines', () => {
  const plain = rcae(['detect', samples]);
  assert.is(plain.status, 0, plain.stderr);
  assert.match(plain.stderr, /^\d+ of 6 flagged FAKE \(error > [\d.e-]+, level balanced\)\n$/);
  const verbose = rcae(['detect', '--verbose', samples]);
  assert.is(verbose.status, 0, verbose.stderr);
  assert.is(verbose.stdout, plain.stdout);
  const lines = verbose.stderr.split(/(?<=\n)/);
  assert.is(lines.filter((l) => !DAWN_NOTICE.test(l)).join(''), plain.stderr);
});

test('progress fits the terminal width, redraws one line, and is off when stderr is not a terminal', () => {
  for (const columns of [30, 50, 120]) {
    const r = rcae(['score', '--batch', '1', '--format', 'csv', samples], { RCAE_TERMINAL_COLUMNS: String(columns) });
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stderr, /\n/, 'no line feed between updates');
    const updates = r.stderr.split('\r').filter((u) => u !== '');
    assert.ok(updates.length >= 2, `updates drawn at ${columns} columns: ${JSON.stringify(r.stderr)}`);
    for (const u of updates) assert.ok(u.replace(/\x1b\[K/g, '').length < columns, `${JSON.stringify(u)} at ${columns} columns`);
    assert.match(r.stderr, /6\/6/);
  }
  const piped = rcae(['score', '--batch', '1', '--format', 'csv', samples]);
  assert.is(piped.stderr, '');
});

test('a resized terminal, as the launcher reports it to the command, narrows the progress line', async () => {
  const inputs = Array.from({ length: 20 }, () => samples);
  // This test plays the launcher: the command runs with its environment and IPC channel.
  const command = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'score', '--batch', '1', ...inputs], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, RCAE_FILTERED_CHILD: '1', RCAE_TERMINAL_COLUMNS: '120' },
  });
  let stderr = '';
  let resized = false;
  command.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (!resized && /\d+\/120/.test(stderr)) {
      resized = true;
      command.send({ columns: 30 });
    }
  });
  const code = await new Promise((resolve) => command.on('exit', resolve));
  assert.is(code, 0, stderr);
  const widths = stderr.split('\r').filter((u) => u.includes('/120')).map((u) => u.replace(/\x1b\[K/g, '').length);
  assert.ok(widths[0] >= 30, `first update ${widths[0]} columns`);
  assert.ok(widths.at(-1)! < 30, `last update ${widths.at(-1)} columns after the resize to 30: ${JSON.stringify(stderr.slice(-200))}`);
});

/** The state letter of a process (R, S, Z, ...), or undefined when it is gone. */
function processState(pid: number): string | undefined {
  const stat = `/proc/${pid}/stat`;
  return existsSync(stat) ? /\) (\w)/.exec(readFileSync(stat, 'utf8'))?.[1] : undefined;
}

test('a launcher killed outright (SIGKILL) takes the command it runs with it', async () => {
  if (process.platform !== 'linux') return;
  // A long run that writes nothing to stderr: 1,200 images, one row per image on stdout.
  const inputs = Array.from({ length: 200 }, () => samples);
  const launcher = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'score', '--batch', '1', ...inputs], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => launcher.stdout!.once('data', resolve));
  const command = Number(readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim().split(' ')[0]);
  assert.ok(command > 0, 'the launcher runs the command in a child');
  const exited = new Promise((resolve) => launcher.on('exit', resolve));
  launcher.kill('SIGKILL');
  await exited;
  let state = processState(command);
  for (let i = 0; i < 50 && state !== undefined && state !== 'Z'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = processState(command);
  }
  launcher.stdout!.destroy();
  assert.ok(state === undefined || state === 'Z', `command ${command} still running (state ${state}) after its launcher was killed`);
});

test.run();
