// The CLI's exit status is chosen by the kind of the error (cli/exit-status.ts), never by its class:
// the table covers every kind, and a real `rcae` child process fails with an error of each kind a
// user can cause from the command line, one line on stderr and the table's status. (An `internal`
// error is a bug: no command line reaches one on purpose; the table and exitStatusOf cover it.)
import { closeSync, openSync, ftruncateSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_STATUS_OF_KIND, exitStatusOf } from '../../src/cli/exit-status.js';
import { ERROR_KINDS, InternalError, kindOf, UsageError, type ErrorKind } from '../../src/errors.js';
import { GpuError } from '../../src/gpu/device.js';
import { FileRefusedError, FileTooLargeError } from '../../src/io/regular-file.js';
import { WeightsFormatError } from '../../src/weights/format-error.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const test = suite('cli/exit-status');
const dir = tempDir();

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the table gives every kind a status: 2 for usage, 1 for the rest; anything else thrown counts as internal', () => {
  assert.equal(Object.keys(EXIT_STATUS_OF_KIND).sort(), [...ERROR_KINDS].sort());
  assert.equal(EXIT_STATUS_OF_KIND, { usage: 2, input: 1, format: 1, limit: 1, device: 1, internal: 1 });
  assert.is(exitStatusOf(new UsageError('x')), 2);
  assert.is(exitStatusOf(new InternalError('x')), 1);
  assert.is(exitStatusOf(new TypeError('x')), EXIT_STATUS_OF_KIND.internal);
});

/** The classes the runs below end with (RCAE_DEBUG prints the stack, whose first line names the class). */
const THROWN: Record<string, () => Error> = {
  UsageError: () => new UsageError('x'),
  FileRefusedError: () => new FileRefusedError('x'),
  FileTooLargeError: () => new FileTooLargeError('x'),
  WeightsFormatError: () => new WeightsFormatError('f', 'p'),
  GpuError: () => new GpuError('x'),
};
const kindOfClass = (name: string): ErrorKind | undefined => (THROWN[name] ? kindOf(THROWN[name]()) : undefined);

/** A sparse file one byte over the largest checkpoint read (4 GiB): refused from its size, never read. */
function oversized(): string {
  const path = join(dir, 'huge.ckpt');
  const fd = openSync(path, 'w');
  ftruncateSync(fd, 2 ** 32 + 1);
  closeSync(fd);
  return path;
}

const CASES: { kind: ErrorKind; args: () => string[]; line: RegExp }[] = [
  { kind: 'usage', args: () => ['inspect', '--bogus'], line: /^rcae inspect: unknown option --bogus/ },
  { kind: 'input', args: () => ['inspect', join(dir, 'missing.ckpt')], line: /^rcae inspect: .*missing\.ckpt: cannot read: no such file$/ },
  { kind: 'format', args: () => ['inspect', join(repoRoot, 'package.json')], line: /^rcae inspect: .*package\.json: not a checkpoint/ },
  { kind: 'limit', args: () => ['inspect', oversized()], line: /^rcae inspect: .*huge\.ckpt: 4294967297 bytes is too large/ },
  { kind: 'device', args: () => ['detect', '--adapter', '99', join(repoRoot, 'package.json')], line: /^rcae detect: adapter index 99 out of range/ },
];

for (const { kind, args, line } of CASES) {
  test(`a ${kind} error from a real rcae process: one line on stderr, exit ${EXIT_STATUS_OF_KIND[kind]}`, () => {
    const r = rcae(args(), { RCAE_DEBUG: '1' });
    const ours = r.stderr.split('\n').filter((l) => !/^Warning: /.test(l));
    assert.match(ours[0], line);
    // The stack (RCAE_DEBUG) starts with the class's name: that class has the kind this case is for.
    const thrown = /^(\w+): /.exec(ours[1])?.[1] ?? '';
    assert.is(kindOfClass(thrown), kind, `${thrown} (${ours[1]})`);
    assert.is(r.status, EXIT_STATUS_OF_KIND[kind], r.stderr);
  });
}

test.run();
