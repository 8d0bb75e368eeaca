// Outputs of one command appear together or not at all, also when a rename fails in the middle of
// the commit: the outputs renamed before it are taken back and the files they replaced restored.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withOutputSet } from '../../src/node/atomic.js';
import { tempDir } from '../helpers/paths.js';

test('a commit that fails half-way restores the old files and leaves no new or temporary file', async () => {
  const dir = tempDir();
  const a = join(dir, 'a.txt');
  const c = join(dir, 'c.txt');
  writeFileSync(a, 'old a');
  writeFileSync(c, 'old c');
  await withOutputSet(async (outputs) => {
    await outputs.stage(a, (tmp) => writeFileSync(tmp, 'new a'));
    await outputs.stage(join(dir, 'b.txt'), (tmp) => writeFileSync(tmp, 'new b'));
    await outputs.stage(c, (tmp) => writeFileSync(tmp, 'new c'));
    // The last output's temporary file vanishes before the commit: its rename fails.
    for (const name of readdirSync(dir)) if (name.startsWith('.c.txt.tmp-')) rmSync(join(dir, name));
  }).then(() => assert.unreachable('the commit should fail'), (err: NodeJS.ErrnoException) => assert.is(err.code, 'ENOENT'));
  assert.equal(readdirSync(dir).sort(), ['a.txt', 'c.txt']);
  assert.is(readFileSync(a, 'utf8'), 'old a');
  assert.is(readFileSync(c, 'utf8'), 'old c');
});

test('a commit that succeeds replaces every output and leaves nothing else', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'old a');
  await withOutputSet(async (outputs) => {
    await outputs.stage(join(dir, 'a.txt'), (tmp) => writeFileSync(tmp, 'new a'));
    await outputs.stage(join(dir, 'b.txt'), (tmp) => writeFileSync(tmp, 'new b'));
  });
  assert.equal(readdirSync(dir).sort(), ['a.txt', 'b.txt']);
  assert.equal([readFileSync(join(dir, 'a.txt'), 'utf8'), readFileSync(join(dir, 'b.txt'), 'utf8')], ['new a', 'new b']);
});

test.run();
