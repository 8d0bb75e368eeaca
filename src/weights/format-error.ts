// Every problem found in a weights file is reported as one line that starts with the file's name,
// so a user holding several checkpoints knows which one is broken and why.

import { RcaeError } from '../errors.js';

export class WeightsFormatError extends RcaeError {
  readonly kind = 'format';

  constructor(readonly source: string, readonly problem: string) {
    super(`${source}: ${problem}`, { subject: source });
  }
}

/** Renders a shape the way the error messages and reports show it: [256,128,4,4]. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
