// The Node platform: Dawn for adapters, the file system for string sources, and the bundled
// default model found beside the package. Every Node entry point (src/index.ts, the CLI, bench,
// tests) imports this module once; the core never does.
import { constants as bufferConstants } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { readRegularFileAsync } from '../io/regular-file.js';
import { fetchPlatform, setPlatform } from '../platform.js';
import './dawn.js';

/** The bundled default model and its thresholds at the package root (models/). */
export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../../../models/default.safetensors', import.meta.url));
export const DEFAULT_THRESHOLDS_PATH = fileURLToPath(new URL('../../../models/default.thresholds.json', import.meta.url));

setPlatform({
  name: 'node',
  async readBytes(path, maxBytes) {
    if (/^(https?|data|blob):/i.test(path)) return fetchPlatform.readBytes(path, maxBytes);
    if (/^file:/i.test(path)) path = fileURLToPath(path);
    return readRegularFileAsync(path, Math.min(maxBytes, bufferConstants.MAX_LENGTH), 'an input file');
  },
  defaultModel: () => ({ weights: DEFAULT_MODEL_PATH, thresholds: DEFAULT_THRESHOLDS_PATH }),
  env: (name) => process.env[name],
});
