// What each JavaScript peer engine provides to the child runner: open once, then run whole batches
// host-to-host (input upload and output readback included, as rcae's end-to-end figure does).
import type { Architecture } from '../../src/graph/architecture.js';
import { PeerUnavailableError } from './protocol.js';

export interface PeerSource {
  arch: Architecture;
  /** Canonical weights (safetensors or torch.save with canonical names). */
  weightsPath: string;
  onnxPath: string;
}

export interface PeerSession {
  /** What actually ran (library version, backend, adapter), for the report. */
  readonly backend: string;
  /** `input` is `batch` NCHW images; the result is their reconstructions, same layout. */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Imports an optional peer package, turning "not installed" into PeerUnavailableError. */
export async function importPeerPackage<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') throw new PeerUnavailableError(`package ${name} is not installed (a development dependency: run the peers from a clone of the repository after npm install)`);
    throw err;
  }
}
