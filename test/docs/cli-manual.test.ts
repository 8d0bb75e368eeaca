// docs/cli.md is the manual of every command: each command `rcae --help` lists has a section, in the
// summary table and as `## \`rcae NAME\``, and every option its --help names appears in that section.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commands } from '../../src/cli/commands/index.js';
import { read } from './markdown.js';

const manual = read('docs/cli.md');

/** The text of `## \`rcae NAME\`` up to the next second-level heading. */
function section(name: string): string | null {
  const start = manual.indexOf(`\n## \`rcae ${name}\`\n`);
  if (start < 0) return null;
  const end = manual.indexOf('\n## ', start + 1);
  return manual.slice(start, end < 0 ? undefined : end);
}

/** The long options a help text names (`--max-batch`, `--no-profile`), and `-o` where it has it. */
function optionsOf(help: string): string[] {
  const names = new Set([...help.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
  if (/(?<![\w-])-o[, ]/.test(help)) names.add('-o');
  return [...names].sort();
}

test('every command has a section and a row in the summary table, and nothing else does', () => {
  const names = commands.map((c) => c.name);
  for (const name of names) {
    assert.ok(section(name), `docs/cli.md has no section \`rcae ${name}\``);
    assert.ok(manual.includes(`| [\`${name}\`](#rcae-${name}) |`), `docs/cli.md's table has no row for ${name}`);
  }
  const sections = [...manual.matchAll(/^## `rcae ([a-z]+)`$/gm)].map((m) => m[1]);
  assert.equal(sections.sort(), [...names].sort());
});

test("every option of a command's --help is in its section of the manual", () => {
  const missing: string[] = [];
  let count = 0;
  for (const command of commands) {
    const text = section(command.name) ?? '';
    for (const option of optionsOf(command.help)) {
      count++;
      if (!new RegExp(`(?<![\\w-])${option}(?![\\w-])`).test(text)) missing.push(`rcae ${command.name} ${option}`);
    }
  }
  assert.equal(missing, [], 'options missing from docs/cli.md');
  assert.ok(count >= 100, `only ${count} options read from --help`);
});

test.run();
