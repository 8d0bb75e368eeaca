// Figures in the docs point at committed results: every `bench/results/…` file (or file prefix,
// as in `bench/results/lavapipe-2core-w64.*`) and every picture that README.md, bench/NOTES.md or
// bench/gpu/README.md cites exists, and a results file that records the commit it was measured at
// names a commit of this repository's history.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';

const docs = ['README.md', 'bench/NOTES.md', 'bench/gpu/README.md'];

function cited(): { doc: string; path: string }[] {
  const out: { doc: string; path: string }[] = [];
  for (const doc of docs) {
    const text = readFileSync(join(repoRoot, doc), 'utf8');
    for (const m of text.matchAll(/\bbench\/results\/[A-Za-z0-9_.\-]+/g)) out.push({ doc, path: m[0] });
    for (const m of text.matchAll(/\]\((docs\/[^)\s]+)\)/g)) out.push({ doc, path: m[1] });
  }
  return out;
}

/** Files a citation stands for: itself, or every file it is a prefix of (`name.` for name.json + name.md). */
function filesOf(path: string): string[] {
  if (existsSync(join(repoRoot, path))) return [path];
  const dir = dirname(path);
  const prefix = path.slice(dir.length + 1);
  if (!prefix.endsWith('.') || !existsSync(join(repoRoot, dir))) return [];
  return readdirSync(join(repoRoot, dir)).filter((f) => f.startsWith(prefix)).map((f) => `${dir}/${f}`);
}

const gitHistory = existsSync(join(repoRoot, '.git'));

test('every results file and picture the docs cite is committed', () => {
  const citations = cited();
  assert.ok(citations.length >= 5, 'the docs cite their results');
  for (const { doc, path } of citations) assert.ok(filesOf(path).length > 0, `${doc} cites ${path}, which does not exist`);
});

test('results files name a commit of this history', () => {
  for (const { path } of cited()) {
    for (const file of filesOf(path).filter((f) => f.endsWith('.json'))) {
      const commit = (JSON.parse(readFileSync(join(repoRoot, file), 'utf8')) as { commit?: unknown }).commit;
      if (typeof commit !== 'string' || !gitHistory) continue;
      try {
        execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: repoRoot, stdio: 'ignore' });
      } catch {
        assert.unreachable(`${file} was measured at commit ${commit}, which this repository does not have`);
      }
    }
  }
});

test.run();
