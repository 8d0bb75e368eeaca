// The exit status of a command that failed, by the kind of its error (errors.ts): the one table of
// it. 2 says "the command line is wrong: read --help"; 1 says the command was right and something
// else failed (an input, a limit, the GPU, rcae itself); the message on stderr says which. Exit
// statuses a command returns on its own (0, and 3 for `detect --fail-on-fake`) are not errors.

import { type ErrorKind, kindOf } from '../errors.js';

export const EXIT_STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  usage: 2,
  input: 1,
  format: 1,
  limit: 1,
  device: 1,
  internal: 1,
};

/** The exit status for anything a command threw (an error from outside the family counts as internal). */
export const exitStatusOf = (err: unknown): number => EXIT_STATUS_OF_KIND[kindOf(err)];
