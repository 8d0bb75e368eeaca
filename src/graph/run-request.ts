// What a run asks for (inputs from images or latents, the endpoints wanted) and which nodes of the
// plan compute it.
import { UsageError } from '../errors.js';
import type { Node, Plan, Statistic } from './plan.js';

/** What a run can return: the latent, the reconstruction, and the per-sample statistics, each under its own name. */
export type Endpoint = 'latent' | 'reconstruction' | Statistic;

export interface RunRequest {
  /** What `input` holds: images [n, C, H, W] or latents [n, latentDim]. */
  from: 'image' | 'latent';
  want: readonly Endpoint[];
}

export type RunResult = Partial<Record<Endpoint, Float32Array>>;

/** The nodes that compute `request`, in order (a statistic only when its endpoint is wanted). */
export function segmentOf(plan: Plan, request: RunRequest): Node[] {
  const { nodes, decodeStart, statsStart } = plan;
  if (request.from === 'latent') {
    if (request.want.some((e) => e !== 'reconstruction')) throw new UsageError('from latents only the reconstruction can be computed');
    return nodes.slice(decodeStart, statsStart);
  }
  const needsDecoder = request.want.some((e) => e !== 'latent');
  if (!needsDecoder) return nodes.slice(0, decodeStart);
  // The statistics asked for run after the decoder, in the same pass.
  const stats = nodes.slice(statsStart).filter((n) => request.want.some((e) => plan.io[e] === n.output));
  return [...nodes.slice(0, statsStart), ...stats];
}
