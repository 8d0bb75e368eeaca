// A real service on 127.0.0.1 (random port) with the bundled model, in this process, and the inputs
// the serve tests send: distinct generated images as PNG bytes, scored one at a time as the expectation.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { defaultThresholds, pickThreshold, parseLevel } from '../../src/detect/thresholds.js';
import { loadModel } from '../../src/model.js';
import { DEFAULT_MODEL_PATH } from '../../src/node/node-platform.js';
import { startService, type ServeOptions, type Service } from '../../src/serve/server.js';
import type { ThresholdChoice } from '../../src/serve/routes.js';
import { repoRoot } from '../helpers/paths.js';
import { random, SEED } from '../helpers/random.js';

export interface TestService extends Service {
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
}

export async function bundledThresholds(): Promise<ThresholdChoice> {
  const doc = await defaultThresholds();
  const levels = Object.fromEntries(Object.entries(doc.reconstruction_thresholds.thresholds).map(([name, l]) => [name, l.value]));
  return { fallback: pickThreshold(doc, 'balanced'), levels, pick: (text) => pickThreshold(doc, parseLevel(text)) };
}

export async function startTestService(overrides: Partial<ServeOptions> = {}): Promise<TestService> {
  const logs: Record<string, unknown>[] = [];
  const service = await startService({
    open: () => loadModel(DEFAULT_MODEL_PATH),
    thresholds: await bundledThresholds(),
    host: '127.0.0.1',
    port: 0,
    maxBatch: 64,
    maxDelayMs: 5,
    maxQueue: 1024,
    maxBodyBytes: 4 << 20,
    requestTimeoutMs: 60_000,
    shutdownTimeoutMs: 10_000,
    log: (line) => logs.push(JSON.parse(line)),
    version: 'test',
    retryMs: 100,
    ...overrides,
  });
  return Object.assign(service, { logs });
}

/**
 * `count` distinct PNGs of different sizes: smooth gradients with a seeded amount of noise, so their
 * errors spread from scene-like to noise-like and a mixed-up answer shows.
 */
export async function distinctPngs(count: number, seed = SEED): Promise<Buffer[]> {
  const rand = random(seed).next;
  return Promise.all(Array.from({ length: count }, (_, i) => {
    const width = 48 + Math.floor(rand() * 160);
    const height = 48 + Math.floor(rand() * 160);
    const noise = (i % 8) / 7;
    const phase = rand() * 6;
    const data = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          const smooth = 127.5 + 127.5 * Math.sin(phase + c + (x * (c + 1)) / width + (2 * y) / height);
          data[(y * width + x) * 3 + c] = Math.round(smooth * (1 - noise) + rand() * 255 * noise);
        }
      }
    }
    return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
  }));
}

export async function postImage(url: string, body: Uint8Array, query = ''): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${url}/v1/detect${query}`, { method: 'POST', body: bytes(body), headers: { 'content-type': 'application/octet-stream' } });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), headers: res.headers };
}

/** Bytes (a Buffer too) as a fetch body (the DOM typings take no Node Buffer). */
export const bytes = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** Polls `ready` every 20 ms until it holds, failing after `ms`. */
export async function until(ready: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `rcae serve --port 0 ARGS` in a child process, once it listens; its JSON log lines as they come. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

export async function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'serve', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!line.startsWith('{')) return; // Dawn's own warnings
      const record = JSON.parse(line) as Record<string, unknown>;
      lines.push(record);
      if (record.event === 'listening') resolve(record.url as string);
    });
    void exited.then((code) => reject(new Error(`rcae serve exited with ${code} before listening`)));
  });
  return { child, url, lines, exited };
}

