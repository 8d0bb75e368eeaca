// Peer: onnxruntime-node on its CPU execution provider (native MLAS kernels, all cores).
import { availableParallelism } from 'node:os';
import type * as OrtNode from 'onnxruntime-node';
import { ortPeerSession } from './ort-session.js';
import { type PeerSession, type PeerSource, importPeerPackage } from './session.js';

export async function openOrtCpu(source: PeerSource): Promise<PeerSession> {
  const ort = (await importPeerPackage<{ default: typeof OrtNode }>('onnxruntime-node')).default;
  const threads = availableParallelism();
  const session = await ort.InferenceSession.create(source.onnxPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
  });
  return ortPeerSession(ort, session, source, `onnxruntime-node ${ort.env.versions.node ?? ''} cpu EP, ${threads} threads`);
}
