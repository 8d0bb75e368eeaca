// Whether a shard whose scoring failed is tried again, by the kind of its error (errors.ts): the one
// table of it. A retry helps when the cause may pass: a file that appears or is put back (a lagging
// shared file system), a GPU that comes back, or an error we do not know (an unknown error is
// retried, as the job's --attempts allow). It cannot help when the same bytes give the same answer:
// a file that does not parse (its SHA-256 was checked, so it is the one submitted), damaged queue
// data, a bound, or a job that asks for something invalid; those fail on the first attempt.

import { type ErrorKind, kindOf, RcaeError } from '../errors.js';

export const RETRIED_KINDS: Readonly<Record<ErrorKind, boolean>> = {
  usage: false,
  input: true,
  format: false,
  limit: false,
  device: true,
  internal: true,
};

/** Whether a shard that failed with `err` may be tried again (while it has attempts left). */
export const worthRetrying = (err: unknown): boolean => RETRIED_KINDS[kindOf(err)];

/** A failed attempt handed to BullMQ to record and schedule again: the cause's one-line reason, and its kind. */
export class ShardFailure extends RcaeError {
  readonly kind: ErrorKind;

  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.kind = kindOf(cause);
  }
}
