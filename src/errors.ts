// The one error family: every error rcae throws on purpose is an RcaeError with a `kind` that says
// whose problem it is, and each boundary maps kinds, never classes, to what its user sees: the CLI
// an exit status (cli/exit-status.ts), the service an HTTP status (serve/http-error.ts), the queue
// worker whether a failed shard is tried again (queue/failure.ts). A new error class picks a kind and
// every boundary already knows what to do with it. Messages are one printable line by construction:
// they quote names from strangers' files (archive members, tensor names), whose control characters
// are shown escaped. Imports only printable.ts, so every layer may use it.

import { printable } from './printable.js';

/**
 * What went wrong, from the point of view of the one who can fix it:
 * - `usage`: the command line or the request's parameters ask for something that is not valid;
 * - `input`: a named file, URL, stream or sample cannot be used (missing, unreadable, wrong shape,
 *   not the model a job was submitted with); it may be fixed or appear later;
 * - `format`: the bytes are not what they claim to be (a damaged checkpoint, archive, image, .npy,
 *   thresholds file or stored queue data); reading them again gives the same answer;
 * - `limit`: a bound on size, count or expansion refused the input (files come from strangers);
 * - `device`: the GPU, or the service in front of it, cannot do the work now (no adapter, a missing
 *   feature, a lost device, a full queue, shutting down); later, or elsewhere, it may;
 * - `internal`: an invariant of rcae itself broke: a bug, to be reported.
 */
export type ErrorKind = 'usage' | 'input' | 'format' | 'limit' | 'device' | 'internal';

export const ERROR_KINDS: readonly ErrorKind[] = ['usage', 'input', 'format', 'limit', 'device', 'internal'];

export interface ErrorDetails {
  /** The file, URL, job or field the error names (its message names it too, first). */
  subject?: string;
  cause?: unknown;
}

/** The family's base: one line naming the subject and the problem, a kind, and the subject itself when known. */
export abstract class RcaeError extends Error {
  abstract readonly kind: ErrorKind;
  readonly subject: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(printable(message), details.cause === undefined ? undefined : { cause: details.cause });
    // The class's own name ("ImageError: ..." in stacks and logs), without each class restating it.
    this.name = new.target.name;
    this.subject = details.subject;
  }
}

/** The kind of anything thrown: a family member's own, `internal` for everything else (a bug or a library's error). */
export const kindOf = (err: unknown): ErrorKind => (err instanceof RcaeError ? err.kind : 'internal');

/** A command line, request parameter or API call that asks for something that is not valid. */
export class UsageError extends RcaeError {
  readonly kind = 'usage';
}

/**
 * An input that cannot be used as it is: a file, URL or stream that cannot be read, a sample that
 * does not fit the model's input shape, a model file that is not the one a job was submitted with.
 */
export class InputError extends RcaeError {
  readonly kind = 'input';
}

/** Bytes that are not what they claim to be, where no more specific class (ImageError, NpyError, ...) applies. */
export class FormatError extends RcaeError {
  readonly kind = 'format';
}

/** A bound on size, count or expansion refused the input, where no more specific class applies. */
export class LimitError extends RcaeError {
  readonly kind = 'limit';
}

/** An invariant of rcae's own code broke: reaching one is a bug. */
export class InternalError extends RcaeError {
  readonly kind = 'internal';
}
