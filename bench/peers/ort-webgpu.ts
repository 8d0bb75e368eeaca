// Peer: onnxruntime-web's WebGPU execution provider (its WebAssembly build) on Dawn's Node binding.
// Run this child under `node --liftoff-only --no-wasm-lazy-compilation`: otherwise V8 spends minutes
// optimising (or lazily compiling mid-run) the 27 MB WebAssembly module on a small machine.
import { readFile } from 'node:fs/promises';
import type * as OrtWeb from 'onnxruntime-web';
import { installDawnNavigator } from './dawn.js';
import { ortPeerSession } from './ort-session.js';
import { type PeerSession, type PeerSource, importPeerPackage } from './session.js';

export const ORT_WEBGPU_NODE_FLAGS = ['--liftoff-only', '--no-wasm-lazy-compilation'];

export async function openOrtWebGpu(source: PeerSource): Promise<PeerSession> {
  const adapter = await installDawnNavigator();
  const ort = await importPeerPackage<typeof OrtWeb>('onnxruntime-web/webgpu');
  // The EP runs every op on the GPU; extra WebAssembly threads would only compete with the driver.
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  // Node's fetch cannot read files: the model goes in as bytes.
  const session = await ort.InferenceSession.create(await readFile(source.onnxPath), { executionProviders: ['webgpu'] });
  return ortPeerSession(ort, session, source, `onnxruntime-web ${ort.env.versions.web ?? ''} webgpu EP on ${adapter}`);
}
