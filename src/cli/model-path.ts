// Where the CLI finds its model (--model, else the default model bundled with the package) and how
// it opens it: adapter, precision, kernel variant, the unsafe-speed toggles, and the tuned tiles of
// `rcae tune` for this device when there are any.

import { existsSync } from 'node:fs';
import { loadModel, type LoadOptions, type Model } from '../model.js';
import { parseVariant } from '../kernels/variants.js';
import { DEFAULT_MODEL_PATH } from '../node/node-platform.js';
import { tuningTable } from '../node/tune-cache.js';
import { precisionOption, UsageError } from './args.js';

export { DEFAULT_MODEL_PATH };

export function modelPath(option: string | undefined): string {
  if (option) return option;
  if (existsSync(DEFAULT_MODEL_PATH)) return DEFAULT_MODEL_PATH;
  throw new UsageError('--model is required (no bundled default model found)');
}

/** The values of args.gpuOptions (and --model) as a command parsed them. */
export interface ModelFlags {
  model?: string;
  adapter?: string;
  precision?: string;
  variant?: string;
  'fast-unsafe'?: boolean;
}

/** loadModel's options for the GPU flags: adapter, precision, variant, toggles, this device's tuned tiles. */
export function modelOptions(flags: ModelFlags): LoadOptions {
  const precision = precisionOption(flags.precision);
  let variant;
  try {
    variant = flags.variant === undefined ? undefined : parseVariant(flags.variant, '--variant');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { adapter: flags.adapter, fastUnsafe: flags['fast-unsafe'], precision, variant, tuning: (gpu) => tuningTable(gpu, precision).table };
}

export async function openModel(flags: ModelFlags): Promise<Model> {
  return loadModel(modelPath(flags.model), modelOptions(flags));
}
