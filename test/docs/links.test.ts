// The README is a front door (short, narrow, linking every document), and no link in the docs is
// dead: every relative link names a file of the repository, and every anchor a heading of its page.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { anchors, documents, exists, read, relativeLinks } from './markdown.js';

test('the README is at most 200 lines, none over 120 characters', () => {
  const lines = read('README.md').split('\n');
  if (lines.at(-1) === '') lines.pop();
  assert.ok(lines.length <= 200, `README.md has ${lines.length} lines`);
  const wide = lines.map((l, i) => ({ n: i + 1, width: [...l].length })).filter((l) => l.width > 120);
  assert.equal(wide, [], 'README.md lines over 120 characters');
});

test('every relative link in the docs resolves to a file, and every anchor to a heading', () => {
  const problems: string[] = [];
  let count = 0;
  for (const doc of documents()) {
    for (const link of relativeLinks(doc)) {
      count++;
      if (!exists(link.path)) {
        problems.push(`${doc}: (${link.raw}) names ${link.path}, which does not exist`);
        continue;
      }
      if (link.anchor !== null && link.path.endsWith('.md') && !anchors(read(link.path)).has(link.anchor)) {
        problems.push(`${doc}: (${link.raw}): ${link.path} has no heading #${link.anchor}`);
      }
    }
  }
  assert.equal(problems, []);
  assert.ok(count >= 100, `only ${count} links checked`);
});

test('every page of docs/ is reachable from the README', () => {
  const seen = new Set<string>(['README.md']);
  const queue = ['README.md'];
  while (queue.length > 0) {
    for (const { path } of relativeLinks(queue.pop()!)) {
      if (path.endsWith('.md') && exists(path) && !seen.has(path)) {
        seen.add(path);
        queue.push(path);
      }
    }
  }
  const unreachable = documents().filter((d) => d.startsWith('docs/') && !seen.has(d));
  assert.equal(unreachable, []);
});

test('the anchor rule: GitHub slugs of code, punctuation and repeated headings', () => {
  const a = anchors('# `rcae detect`\n## Inputs, models and adapters\n## f16 against f32\n## Tests\n## Tests\n```\n# not a heading\n```\n');
  assert.equal([...a], ['rcae-detect', 'inputs-models-and-adapters', 'f16-against-f32', 'tests', 'tests-1']);
});

test.run();
