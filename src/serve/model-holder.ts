// The service's model and what happens when its GPU device is lost: requests then fail with
// ModelUnavailableError (503), readiness is false, and a new device and model are opened (retrying
// with backoff) until one works or the service closes.
//
// Passes are cut into power-of-two sizes no larger than maxBatch: the executor keeps the activation
// buffers it binds for every chunk size it sees, so arbitrary batch sizes (1..maxBatch) would keep
// up to maxBatch sets of them alive; powers of two keep at most log2(maxBatch) + 1.

import type { Model } from '../model.js';
import type { Scored } from './batcher.js';
import { RcaeError } from '../errors.js';

/** No usable model right now (device lost and not yet re-created, or shutting down). */
export class ModelUnavailableError extends RcaeError {
  readonly kind = 'device';
}

export type ModelState = 'loading' | 'ready' | 'lost' | 'closed';

/** One pass over images: the per-sample score and, when asked, the reconstructions of the same pass. */
export type PassMeasure = (images: Float32Array, withReconstruction: boolean) => Promise<{ error: Float32Array; reconstruction?: Float32Array }>;

/** A detection score for a model, built once per (re-)opened model. */
export type ScoreMeasure = (model: Model) => PassMeasure;

/** The default score: the model's reconstruction MSE. */
const mseMeasure: ScoreMeasure = (model) => async (images, withReconstruction) =>
  withReconstruction ? model.reconstructWithError(images) : { error: await model.reconstructionError(images) };

export interface ModelHolderOptions {
  open: () => Promise<Model>;
  /** The score a pass computes (default: the reconstruction MSE). */
  measure?: ScoreMeasure;
  maxBatch: number;
  log: (event: Record<string, unknown>) => void;
  /** Called once per device loss (metrics). */
  onLoss?: () => void;
  /** Called when a loss is noticed, before re-creating (fail the queued requests). */
  onUnavailable?: (err: ModelUnavailableError) => void;
  /** First delay between attempts to re-open after a loss; doubles up to 30 s. */
  retryMs?: number;
}

/**
 * Whether the model's device is lost or is reported lost shortly: a pass on a destroyed device may
 * fail before the device's lost promise settles.
 */
function deviceLostSoon(model: Model, withinMs = 250): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), withinMs)));
  return Promise.race([model.gpu.device.lost.then(() => true), late]).finally(() => clearTimeout(timer));
}

const largestPowerOfTwo = (n: number): number => 2 ** Math.floor(Math.log2(n));

export class ModelHolder {
  private current: Model | undefined;
  /** The score of a pass on the current model. */
  private measure: PassMeasure | undefined;
  private status: ModelState = 'loading';
  private recovery: Promise<void> | undefined;
  private readonly largestPass: number;

  constructor(private readonly options: ModelHolderOptions) {
    this.largestPass = largestPowerOfTwo(Math.max(1, options.maxBatch));
  }

  get state(): ModelState {
    return this.status;
  }

  /** The model when ready; throws ModelUnavailableError otherwise. */
  get model(): Model {
    if (this.status !== 'ready' || !this.current) throw new ModelUnavailableError(`the model is not available (${this.status})`);
    return this.current;
  }

  async start(): Promise<void> {
    this.adopt(await this.options.open());
  }

  private adopt(model: Model): void {
    this.current = model;
    // Built once per model (the atypical score decodes its fit here), not once per pass.
    this.measure = (this.options.measure ?? mseMeasure)(model);
    this.status = 'ready';
    // A device destroyed by us (dispose) is not a loss; any other end of this device is.
    void model.gpu.device.lost.then((info) => {
      if (this.current === model && this.status === 'ready') this.lose(`${info.reason}: ${info.message}`);
    });
  }

  /** Marks the model lost, fails what waits on it, and re-creates it in the background. */
  private lose(reason: string): void {
    this.status = 'lost';
    this.options.onLoss?.();
    this.options.log({ event: 'device-lost', reason });
    this.options.onUnavailable?.(new ModelUnavailableError(`the GPU device was lost (${reason}); the model is being re-created`));
    const old = this.current;
    this.current = undefined;
    try {
      old?.dispose();
    } catch {
      // Freeing on a lost device may fail; the device is gone either way.
    }
    this.recovery = this.recover();
  }

  private async recover(): Promise<void> {
    let delay = this.options.retryMs ?? 1000;
    for (let attempt = 1; this.status === 'lost'; attempt++) {
      try {
        const model = await this.options.open();
        if (this.status !== 'lost') {
          model.dispose();
          return;
        }
        this.adopt(model);
        this.options.log({ event: 'device-recreated', attempt, adapter: model.gpu.adapter.description || model.gpu.adapter.device });
        return;
      } catch (err) {
        this.options.log({ event: 'device-recreate-failed', attempt, reason: (err as Error).message, retry_ms: delay });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(30_000, delay * 2);
      }
    }
  }

  /** Resolves once the model is ready again (tests, after forcing a loss). */
  async recovered(): Promise<void> {
    await this.recovery;
  }

  /** One batcher pass: the samples in power-of-two passes, results concatenated in order. */
  readonly score = async (samples: Float32Array, count: number, withReconstruction: boolean): Promise<Scored> => {
    const model = this.model;
    const measure = this.measure!;
    const per = samples.length / count;
    const error = new Float32Array(count);
    const reconstruction = withReconstruction ? new Float32Array(samples.length) : undefined;
    try {
      for (let start = 0; start < count; ) {
        const n = Math.min(this.largestPass, largestPowerOfTwo(count - start));
        const part = samples.subarray(start * per, (start + n) * per);
        const r = await measure(part, reconstruction !== undefined);
        error.set(r.error, start);
        reconstruction?.set(r.reconstruction!, start * per);
        start += n;
      }
    } catch (err) {
      // A pass that fails because the device went away is a 503, not a server error.
      if (this.current !== model || this.status !== 'ready' || (await deviceLostSoon(model))) throw new ModelUnavailableError(`the GPU device was lost during the forward pass: ${(err as Error).message}`);
      throw err;
    }
    return { error, reconstruction };
  };

  /** Frees the model and its device; nothing is re-created after this. */
  close(): void {
    this.status = 'closed';
    const model = this.current;
    this.current = undefined;
    model?.dispose();
  }
}
