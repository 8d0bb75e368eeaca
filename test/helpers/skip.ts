// Skips that are real and visible: a test whose precondition is missing is registered with uvu's own
// skip (so it is counted as skipped, never as passed) and its reason is recorded for the summary that
// test/run.ts prints. A skip marked `ci` means the precondition is one CI installs itself (PyTorch,
// the shared datasets, lavapipe's subgroups); such a skip fails the run when CI is set.
import type { Test } from 'uvu';

export interface SkipRecord {
  test: string;
  reason: string;
  requiredInCi: boolean;
}

export const skipped: SkipRecord[] = [];

type TestFn = Parameters<Test>[1];

/**
 * `t` itself when `missing` is null; otherwise a registrar that records the reason and skips.
 * Usage: `requires(test, torchMissing, { ci: true })('name', async () => { ... })`.
 */
export function requires(t: Test, missing: string | null, options: { ci: boolean }): (name: string, fn: TestFn) => void {
  if (missing === null) return (name, fn) => t(name, fn);
  return (name, fn) => {
    skipped.push({ test: name, reason: missing, requiredInCi: options.ci });
    t.skip(name, fn);
  };
}
