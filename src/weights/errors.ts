// Every problem found in a weights file is reported as one line that starts with the file's name,
// so a user holding several checkpoints knows which one is broken and why.

export class WeightsFormatError extends Error {
  override name = 'WeightsFormatError';

  constructor(readonly source: string, readonly problem: string) {
    super(`${source}: ${problem}`);
  }
}

/** Renders a shape the way the error messages and reports show it: [256,128,4,4]. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
