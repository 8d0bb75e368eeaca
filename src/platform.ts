// The one place where the platform-neutral core meets the platform it runs on: how a string source
// (a file path in Node, a URL in a browser) becomes bytes, and where the bundled default model is.
// Node registers its file-system version (src/node/node-platform.ts); without one, strings are fetched,
// which is what a browser page wants. Imports only the error family, so every layer may use it.

import { InputError, LimitError, UsageError } from './errors.js';

export interface Platform {
  readonly name: string;
  /** The bytes behind a path (Node) or URL (browser); errors name `path`. */
  readBytes(path: string, maxBytes: number): Promise<Uint8Array>;
  /** Where the bundled default model and its thresholds are: two paths or two URLs. */
  defaultModel(): { weights: string; thresholds: string };
  /** A setting from the environment (RCAE_CONV_VARIANT, ...): process.env in Node, none in a page. */
  env(name: string): string | undefined;
}

/** Relative to the page in a browser: dist/web/ serves the bundled model under models/. */
const DEFAULT_MODEL_URLS = { weights: 'models/default.safetensors', thresholds: 'models/default.thresholds.json' };

/** The platform every page has: fetch, resolved against the page's address. */
export const fetchPlatform: Platform = {
  name: 'fetch',
  async readBytes(path, maxBytes) {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    if (!base && !URL.canParse(path)) {
      throw new UsageError(`${path}: not a URL, and no file-system platform is registered (in Node, load src/node/node-platform.js first, as the rcae-webgpu entry point does)`);
    }
    const url = new URL(path, base);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new InputError(`${path}: cannot fetch (${(err as Error).message})`);
    }
    if (!response.ok) throw new InputError(`${path}: HTTP ${response.status} ${response.statusText}`.trim());
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > maxBytes) throw new LimitError(`${path}: ${declared} bytes is more than the limit of ${maxBytes}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > maxBytes) throw new LimitError(`${path}: ${bytes.length} bytes is more than the limit of ${maxBytes}`);
    return bytes;
  },
  defaultModel: () => DEFAULT_MODEL_URLS,
  env: () => undefined,
};

let current: Platform = fetchPlatform;

export function setPlatform(platform: Platform): void {
  current = platform;
}

export function platform(): Platform {
  return current;
}
