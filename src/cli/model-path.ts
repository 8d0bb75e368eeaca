// Where the CLI finds its model: --model, else the default model bundled with the package.

import { existsSync } from 'node:fs';
import { loadModel, type Model } from '../model.js';
import { DEFAULT_MODEL_PATH } from '../node/platform.js';
import { UsageError } from './args.js';

export { DEFAULT_MODEL_PATH };

export function modelPath(option: string | undefined): string {
  if (option) return option;
  if (existsSync(DEFAULT_MODEL_PATH)) return DEFAULT_MODEL_PATH;
  throw new UsageError('--model is required (no bundled default model found)');
}

export async function openModel(option: string | undefined, adapter: string | undefined): Promise<Model> {
  return loadModel(modelPath(option), { adapter });
}
