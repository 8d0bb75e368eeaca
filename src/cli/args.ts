// Argument parsing shared by the commands: node:util parseArgs with strict checking, plus the few
// typed option readers the commands need.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { FORMATS, type Format } from './format.js';
import { didYouMean } from './suggest.js';

/** Re-exported: the commands throw it for a command line that is not valid (exit status 2). */
export { UsageError };

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number | void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export type ParsedValues<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

const NUMBER = /^-(\d|\.\d|Infinity)/;

/**
 * `--level -0.5` as `--level=-0.5`: parseArgs takes a value that starts with `-` for another
 * option and refuses it as "ambiguous"; a negative number after an option that takes a value is
 * that value (the option's own check then says whether it may be negative).
 */
function attachNegativeNumbers(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return [...out, ...argv.slice(i)];
    const name = a.startsWith('--') ? a.slice(2) : Object.keys(options).find((k) => options[k].short !== undefined && `-${options[k].short}` === a);
    if (name !== undefined && options[name]?.type === 'string' && NUMBER.test(argv[i + 1] ?? '')) {
      out.push(`--${name}=${argv[++i]}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

/** parseArgs's complaint as one plain line, with the option the user probably meant. */
function explain(err: Error & { code?: string }, options: Options): string {
  const names = Object.keys(options).map((k) => `--${k}`);
  const unknown = /^Unknown option '([^']+)'/.exec(err.message)?.[1];
  if (unknown) return `unknown option ${unknown}${didYouMean(unknown.split('=')[0], names)}`;
  const missing = /^Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(err.message)?.[2];
  if (missing) return `${missing} needs a value`;
  const ambiguous = /^Option '(-\w, )?(--[\w-]+)' argument is ambiguous/.exec(err.message)?.[2];
  if (ambiguous) return `${ambiguous} needs a value, got an option; write ${ambiguous}=VALUE for a value that starts with '-'`;
  const noValue = /^Option '(--[\w-]+)' does not take an argument/.exec(err.message)?.[1];
  if (noValue) return `${noValue} takes no value`;
  return err.message.split('\n')[0];
}

export function parse<O extends Options>(argv: string[], options: O, command: string): { values: ParsedValues<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: attachNegativeNumbers(argv, options), options, allowPositionals: true, strict: true });
    return { values: values as ParsedValues<O>, positionals };
  } catch (err) {
    throw new UsageError(`${explain(err as Error, options)} (see rcae ${command} --help)`);
  }
}

/** --format, where --json is short for --format jsonl. */
export function formatOption(value: string | undefined, fallback: Format, json = false): Format {
  if (json && value !== undefined && value !== 'jsonl') throw new UsageError(`--json and --format ${value} disagree`);
  const f = (json ? 'jsonl' : (value ?? fallback)) as Format;
  if (!FORMATS.includes(f)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${value}'`);
  return f;
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}, got '${value}'`);
  return n;
}

export function numberOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, got '${value}'`);
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
  --variant V     force a convolution kernel: register, subgroup, fma, matrix,
                  matrix-emulated (also RCAE_CONV_VARIANT); default: tuned, else by adapter
  --fast-unsafe   drop Dawn's bounds clamping and integer-division polyfills (faster, unchecked)`;

export function precisionOption(value: string | undefined): 'f32' | 'f16' {
  if (value === undefined || value === 'f32' || value === 'f16') return value ?? 'f32';
  throw new UsageError(`--precision must be f32 or f16, got '${value}'`);
}
