// Argument parsing shared by the commands: node:util parseArgs with strict checking, plus the few
// typed option readers the commands need.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FORMATS, type Format } from './format.js';

export class UsageError extends Error {}

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number | void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export type ParsedValues<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

export function parse<O extends Options>(argv: string[], options: O, command: string): { values: ParsedValues<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as ParsedValues<O>, positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see rcae ${command} --help)`);
  }
}

export function formatOption(value: string | undefined, fallback: Format): Format {
  const f = (value ?? fallback) as Format;
  if (!FORMATS.includes(f)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${value}'`);
  return f;
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** Options every GPU command takes. */
export const gpuOptions = {
  adapter: { type: 'string' },
  precision: { type: 'string' },
  variant: { type: 'string' },
  'fast-unsafe': { type: 'boolean' },
} as const satisfies Options;

/** The help lines for gpuOptions, appended to every GPU command's help. */
export const gpuOptionsHelp = `  --adapter A     GPU adapter index or name substring (also RCAE_ADAPTER)
  --precision P   f32 (default) or f16: weights and activations stored as f16, f32 accumulation
  --variant V     force a convolution kernel: register, subgroup, shared, tile, matrix,
                  matrix-emulated (also RCAE_CONV_VARIANT); default: tuned, else by adapter
  --fast-unsafe   drop Dawn's bounds clamping and integer-division polyfills (faster, unchecked)`;

export function precisionOption(value: string | undefined): 'f32' | 'f16' {
  if (value === undefined || value === 'f32' || value === 'f16') return value ?? 'f32';
  throw new UsageError(`--precision must be f32 or f16, got '${value}'`);
}
