// The Node platform: Dawn for adapters, the file system for string sources, and the bundled
// default model found beside the package. Every Node entry point (src/index.ts, the CLI, bench,
// tests) imports this module once; the core never does.
import { constants as bufferConstants } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
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
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`${path}: ${err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    });
    if (!info.isFile()) throw new Error(`${path}: not a file`);
    const size = info.size;
    const limit = Math.min(maxBytes, bufferConstants.MAX_LENGTH);
    if (size > limit) throw new Error(`${path}: file of ${size} bytes is too large to load (limit ${limit})`);
    return readFile(path);
  },
  defaultModel: () => ({ weights: DEFAULT_MODEL_PATH, thresholds: DEFAULT_THRESHOLDS_PATH }),
  env: (name) => process.env[name],
});
