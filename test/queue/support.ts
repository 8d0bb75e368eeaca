// Shared by the queue tests: the CLI run asynchronously (workers run beside it), worker processes,
// and a data set of cheap inputs (small PNGs, an .npy, a .tar.gz) whose errors straddle a threshold.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeNpy } from '../../src/node/npy-file.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { random } from '../helpers/random.js';

export const MODEL = fixture('model', 'w4', 'model-published.ckpt');
/**
 * The w4 fixture (random weights) scores noise images 0.2-0.4 with a median near 0.285, and flat
 * colours anywhere from 0.04 to 1: at this threshold about half the inputs are FAKE, whatever the seed.
 */
export const LEVEL = '0.285';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const env = () => ({ ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' });

/** Runs the CLI; killed after `timeoutMs` (a job that never finishes fails the test instead of hanging it). */
export function rcaeAsync(args: string[], cwd = repoRoot, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), ...args], { cwd, env: env(), timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  /** What the worker printed so far. */
  log(): string;
  exited: Promise<number | null>;
}

/** A worker with short locks, so a killed worker's shard is retaken within about a second. */
export function startWorker(redisUrl: string, extra: string[] = [], cwd = repoRoot): WorkerProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), 'worker', '--redis', redisUrl,
    '--lock-duration', '1500', '--stalled-interval', '500', '--concurrency', '1', ...extra], { cwd, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

export async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await w.exited;
}

export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 300_000, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * `count` inputs in `dir`: 8x8 PNGs (alternately uniform noise and a flat colour, upscaled by the
 * preprocessing), plus an .npy of 3 rows and a .tar.gz of 3 PNG members. Returns the INPUT arguments.
 */
export async function makeDataset(dir: string, count: number, seed: number): Promise<string[]> {
  const rng = random(seed);
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  const pngs = count - 6;
  const png = (i: number) => {
    const px = Buffer.alloc(8 * 8 * 3);
    const flat = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
    for (let j = 0; j < px.length; j++) px[j] = i % 2 ? rng.int(0, 255) : flat[j % 3];
    return sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
  };
  const buffers = await Promise.all(Array.from({ length: pngs }, (_, i) => png(i)));
  buffers.forEach((b, i) => writeFileSync(join(images, `img-${String(i).padStart(5, '0')}.png`), b));
  const rows = new Float32Array(3 * 3 * 128 * 128).map(() => rng.next() * 2 - 1);
  writeNpy(join(dir, 'rows.npy'), rows, [3, 3, 128, 128]);
  const members = join(dir, 'm');
  mkdirSync(members);
  (await Promise.all([0, 1, 2].map((i) => png(i)))).forEach((b, i) => writeFileSync(join(members, `${i}.png`), b));
  execFileSync('tar', ['-czf', join(dir, 'members.tar.gz'), '-C', dir, 'm/0.png', 'm/1.png', 'm/2.png']);
  return [images, join(dir, 'rows.npy'), join(dir, 'members.tar.gz')];
}

export interface DetectRow {
  input: string;
  index: number;
  error: number;
  threshold: number;
  label: string;
}

export const jsonl = (text: string): DetectRow[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
