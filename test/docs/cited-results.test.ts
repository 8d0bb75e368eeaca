// Figures in the docs point at committed results: every `bench/results/…` file (or file prefix,
// as in `bench/results/lavapipe-2core-w64.*`) and every picture that README.md, a page of docs/,
// bench/NOTES.md, bench/gpu/README.md or tools/README.md cites exists, a results file that records
// the commit it was measured at names a commit of this repository's history, and docs/results.md,
// the one place for figures, cites every committed results file (and so every one a document cites).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';
import { documents, read, relativeLinks } from './markdown.js';

function cited(): { doc: string; path: string }[] {
  const out: { doc: string; path: string }[] = [];
  for (const doc of documents()) {
    for (const m of read(doc).matchAll(/\bbench\/results\/[A-Za-z0-9_.\-]+/g)) out.push({ doc, path: m[0] });
    for (const link of relativeLinks(doc)) if (/\.(png|jpg|svg)$/.test(link.path)) out.push({ doc, path: link.path });
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

test('docs/results.md cites every committed results file, and so every one the other documents cite', () => {
  const inResults = new Set(cited().filter((c) => c.doc === 'docs/results.md').flatMap((c) => filesOf(c.path)));
  const elsewhere = cited().filter((c) => c.doc !== 'docs/results.md' && c.path.startsWith('bench/results/'));
  const missing = elsewhere.flatMap((c) => filesOf(c.path).filter((f) => !inResults.has(f)).map((f) => `${f} (cited by ${c.doc})`));
  assert.equal([...new Set(missing)], []);
  const uncited = readdirSync(join(repoRoot, 'bench/results')).map((f) => `bench/results/${f}`).filter((f) => !inResults.has(f));
  assert.equal(uncited, [], 'results files docs/results.md does not cite');
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
