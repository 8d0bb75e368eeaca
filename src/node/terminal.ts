// Whether stderr is a terminal and how wide: directly, or as told by the parent process of
// src/cli/launch.ts, which hands the child a pipe in place of the terminal.

/** Environment variable through which launch.ts passes the terminal's width to the child. */
export const TERMINAL_COLUMNS_ENV = 'RCAE_TERMINAL_COLUMNS';

/** Columns of the terminal stderr draws on, or undefined when stderr is not a terminal. */
export function stderrColumns(stream: NodeJS.WriteStream = process.stderr): number | undefined {
  if (stream.isTTY) return stream.columns || 80;
  const told = Number(process.env[TERMINAL_COLUMNS_ENV]);
  return stream === process.stderr && Number.isInteger(told) && told > 0 ? told : undefined;
}
