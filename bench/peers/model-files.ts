// The files a peer child is handed: canonical safetensors weights, the architecture as JSON and the
// ONNX graph, written once under a cache folder and found again by content hash, so repeated
// `rcae bench --peers` runs of the same model skip the ~300 MB of writing at full width.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Architecture } from '../../src/graph/architecture.js';
import { writeFileAtomically } from '../../src/node/atomic.js';
import type { Params } from './folding.js';
import { ONNX_OPSET, writeOnnxModel } from './onnx-writer.js';
import { readCanonicalParams, writeCanonicalSafetensors } from './weights.js';

/** Bumped whenever the ONNX graph written for the same weights changes, so stale caches are not reused. */
const ONNX_WRITER_VERSION = 1;

export interface PeerModel {
  arch: Architecture;
  /** Canonical float32 safetensors (what the JS and PyTorch peers read). */
  weightsPath: string;
  /** The architecture JSON (what every child is given with --arch). */
  archPath: string;
  /** The same weights as an ONNX graph with BatchNorm folded (what the ORT peers run). */
  onnxPath: string;
}

export interface CacheOptions {
  /** Default: <repository>/.cache/bench/peers in a clone, $XDG_CACHE_HOME/rcae/bench-peers when installed. */
  cacheDir?: string;
}

export function defaultCacheDir(): string {
  // This module runs from dist/bench/peers/; the package root is three levels up. An installed
  // package (under node_modules) may be read-only and is replaced on upgrade, so it is not used.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  if (!root.split(sep).includes('node_modules')) return join(root, '.cache', 'bench', 'peers');
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'rcae', 'bench-peers');
}

function hashParams(arch: Architecture, params: Params): string {
  const h = createHash('sha256').update(JSON.stringify(arch));
  for (const name of [...params.keys()].sort()) {
    const data = params.get(name)!;
    h.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex').slice(0, 20);
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * The ONNX graph of a canonical weights file (.pt/.pth/.ckpt/.safetensors with canonical names),
 * written on first use and cached by the file's content. Needs no Python.
 */
export async function ensureOnnx(arch: Architecture, weightsPath: string, options: CacheOptions = {}): Promise<string> {
  const dir = join(options.cacheDir ?? defaultCacheDir(), 'onnx');
  const key = createHash('sha256').update(`${await hashFile(weightsPath)}\n${JSON.stringify(arch)}\nopset${ONNX_OPSET}\nv${ONNX_WRITER_VERSION}`).digest('hex').slice(0, 20);
  const path = join(dir, `${key}.onnx`);
  if (existsSync(path)) return path;
  await mkdir(dir, { recursive: true });
  await writeOnnxModel(path, arch, await readCanonicalParams(weightsPath, arch), weightsPath);
  return path;
}

/** Writes (or finds in the cache) the weights, architecture and ONNX files for in-memory parameters. */
export async function preparePeerModel(arch: Architecture, params: Params, options: CacheOptions = {}): Promise<PeerModel> {
  const dir = join(options.cacheDir ?? defaultCacheDir(), `model-${hashParams(arch, params)}-v${ONNX_WRITER_VERSION}`);
  const model: PeerModel = {
    arch,
    weightsPath: join(dir, 'weights.safetensors'),
    archPath: join(dir, 'arch.json'),
    onnxPath: join(dir, 'model.onnx'),
  };
  await mkdir(dir, { recursive: true });
  if (!existsSync(model.weightsPath)) await writeCanonicalSafetensors(model.weightsPath, arch, params);
  if (!existsSync(model.archPath)) await writeFileAtomically(model.archPath, JSON.stringify(arch, null, 2) + '\n');
  if (!existsSync(model.onnxPath)) await writeOnnxModel(model.onnxPath, arch, params, model.weightsPath);
  return model;
}

/** The files for an existing canonical weights file: it is used in place; the ONNX graph is cached. */
export async function peerModelForFile(arch: Architecture, weightsPath: string, options: CacheOptions = {}): Promise<PeerModel> {
  const onnxPath = await ensureOnnx(arch, weightsPath, options);
  const archPath = onnxPath.replace(/\.onnx$/, '.arch.json');
  if (!existsSync(archPath)) await writeFileAtomically(archPath, JSON.stringify(arch, null, 2) + '\n');
  return { arch, weightsPath, archPath, onnxPath };
}
