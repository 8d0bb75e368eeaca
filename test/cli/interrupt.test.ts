// Ctrl-C during a long run leaves no output file and no temporary behind.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, repoRoot, tempDir } from '../helpers/paths.js';
import { requires } from '../helpers/skip.js';
import { datasetMissing, datasetPath } from '../io/fixtures.js';

requires(test, datasetMissing('cifar10-test.tar.gz'), { ci: true })('SIGINT during scoring: exit 130, no partial output', async () => {
  const archive = datasetPath('cifar10-test.tar.gz');
  const dir = tempDir();
  const out = join(dir, 'scores.jsonl');
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'score', '--model', fixture('model', 'w8', 'model-published.ckpt'), '--out', out, archive], {
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Interrupt once the temporary output exists, i.e. mid-run.
  const started = Date.now();
  while (!readdirSync(dir).some((f) => f.includes('.tmp-')) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.is(code, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.equal(readdirSync(dir), []);
});

test.run();
