// The error family, read from the TypeScript sources: every error class in src/ belongs to it
// (RcaeError, src/errors.ts) and has one of the six kinds the boundaries map, and no plain
// `new Error(` is left in src/ or web/ outside a short allow-list with reasons. What each boundary
// does with each kind is tested at the boundary: test/cli/exit-status.test.ts (a real CLI process),
// test/serve/error-status.test.ts (a real HTTP server), test/queue/failure.test.ts (a real Redis).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_KINDS, InternalError, kindOf, RcaeError } from '../../src/errors.js';
import { repoRoot } from '../helpers/paths.js';
import { rel, tsFiles } from '../helpers/sources.js';

const test = suite('core/errors');

/** Plain `new Error(` still allowed, by path prefix, with the reason (none today). */
const PLAIN_ERROR_ALLOWED: Readonly<Record<string, string>> = {
};

const sources = (...dirs: string[]) => dirs.flatMap((d) => [...tsFiles(join(repoRoot, d))]);

/** The code without comments and string contents, so `new Error(` in a comment or a message is not counted. */
function codeOf(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");
}

const PLAIN_ERROR = /\bnew Error\(/g;
const countPlain = (text: string) => [...codeOf(text).matchAll(PLAIN_ERROR)].length;

interface ErrorClass {
  name: string;
  base: string;
  file: string;
  exported: boolean;
}

/** Every `class X extends Y` in the sources whose chain of bases reaches a built-in error. */
function errorClasses(): ErrorClass[] {
  const all: ErrorClass[] = [];
  for (const file of sources('src')) {
    const code = codeOf(readFileSync(file, 'utf8'));
    for (const m of code.matchAll(/^\s*(export )?(?:abstract )?class (\w+)(?:<[^>]*>)? extends (\w+)/gm)) all.push({ name: m[2], base: m[3], file: rel(file), exported: m[1] !== undefined });
  }
  const byName = new Map(all.map((c) => [c.name, c]));
  const reachesError = (c: ErrorClass, seen = new Set<string>()): boolean => {
    if (/^(Type|Range|Syntax|Reference|Eval|URI|Aggregate)?Error$/.test(c.base)) return true;
    const base = byName.get(c.base);
    return base !== undefined && !seen.has(c.name) && reachesError(base, seen.add(c.name));
  };
  return all.filter((c) => reachesError(c));
}

/** Arguments that construct each class whose constructor is not (message, details). */
const CONSTRUCTOR_ARGS: Readonly<Record<string, unknown[]>> = {
  HttpError: [400, 'request: bad'],
  ClientClosedError: ['mid-request'],
  WeightsFormatError: ['model.ckpt', 'bad'],
  ShardFailure: ['shard 0: bad', new InternalError('x')],
};

test('every error class in src/ is exported, belongs to the family and has one of its kinds', async () => {
  const classes = errorClasses();
  // The scan itself: it must see the classes it is meant to check.
  assert.ok(classes.length >= 25, `found ${classes.length} error classes; the scan is broken`);
  for (const expected of ['RcaeError', 'GpuError', 'WeightsFormatError', 'StoredDataError', 'HttpError', 'UsageError']) assert.ok(classes.some((c) => c.name === expected), expected);
  const problems: string[] = [];
  for (const c of classes) {
    if (c.name === 'RcaeError') continue;
    if (!c.exported) {
      problems.push(`${c.file}: ${c.name} is not exported`);
      continue;
    }
    const module = await import(pathToFileURL(join(repoRoot, 'dist', c.file.replace(/\.ts$/, '.js'))).href);
    const Class = module[c.name] as new (...args: unknown[]) => unknown;
    const err = new Class(...(CONSTRUCTOR_ARGS[c.name] ?? ['subject: problem']));
    if (!(err instanceof RcaeError)) {
      problems.push(`${c.file}: ${c.name} extends ${c.base}, outside the family (extend RcaeError or one of its classes)`);
      continue;
    }
    if (!ERROR_KINDS.includes(err.kind)) problems.push(`${c.file}: ${c.name} has kind ${String(err.kind)}`);
    if (err.name !== c.name) problems.push(`${c.file}: ${c.name} is named ${err.name}`);
  }
  assert.equal(problems, []);
});

test('only RcaeError extends a built-in error', () => {
  const direct = errorClasses().filter((c) => /^(Type|Range|Syntax|Reference|Eval|URI|Aggregate)?Error$/.test(c.base));
  assert.equal(direct.map((c) => `${c.file}: ${c.name}`), ['src/errors.ts: RcaeError']);
});

test("no plain `new Error(` in src/ or web/ outside the allow-list; the list holds no entry that is done", () => {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const file of sources('src', 'web')) {
    const n = countPlain(readFileSync(file, 'utf8'));
    if (n === 0) continue;
    const allowed = Object.keys(PLAIN_ERROR_ALLOWED).find((prefix) => rel(file).startsWith(prefix));
    if (allowed) used.add(allowed);
    else problems.push(`${rel(file)}: ${n} plain new Error( (throw a family member: errors.ts says which kind)`);
  }
  for (const prefix of Object.keys(PLAIN_ERROR_ALLOWED)) if (!used.has(prefix)) problems.push(`${prefix}: no plain Error left; remove it from PLAIN_ERROR_ALLOWED`);
  assert.equal(problems, []);
});

test('the scan counts what it must and skips comments and messages', () => {
  assert.is(countPlain("throw new Error(`x`);\nreturn new Error('y');"), 2);
  assert.is(countPlain("// new Error( in a comment\n/* new Error( */ throw new InputError('no new Error( here');"), 0);
  assert.is(countPlain('throw new RangeError(`x`);'), 0);
});

test('kindOf: a family member its own kind, anything else internal', () => {
  assert.is(kindOf(new InternalError('x')), 'internal');
  for (const kind of ERROR_KINDS) {
    class Probe extends RcaeError {
      readonly kind = kind;
    }
    const probe = new Probe('probe: x', { subject: 'probe' });
    assert.is(kindOf(probe), kind);
    assert.is(probe.subject, 'probe');
    assert.is(probe.name, 'Probe');
  }
  assert.is(kindOf(new TypeError('x')), 'internal');
  assert.is(kindOf('a string'), 'internal');
});

// Found by the fuzz test (seed 1383868100): a zip member named with a newline and NULs split the
// zip reader's message over two lines. The family escapes what a message quotes, once for all.
test('a family message is one printable line whatever name it quotes', () => {
  const err = new InternalError('m.zip: truncated zip (local header of \x0b\x00\n\u202e\x1b[2J at 3)');
  assert.is(err.message, 'm.zip: truncated zip (local header of \\x0b\\x00\\n\\u202e\\x1b[2J at 3)');
  assert.not.match(err.message, /[\x00-\x1f\x7f-\x9f]/);
  assert.is(new InternalError(err.message).message, err.message, 'escaping twice changes nothing');
});

test.run();
