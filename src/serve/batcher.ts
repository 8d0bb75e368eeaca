// Dynamic batching: requests that arrive close together are scored in one forward pass. A request
// (one image, or several from a batch request) waits at most maxDelayMs for others to join it while
// the GPU is idle, and a pass takes queued requests whole, in arrival order, up to maxBatch samples.
// Each request gets back exactly its own slice of the pass's results. The queue is bounded in
// samples, counted from when a request is admitted (before its images decode), so the tensors of
// requests not yet in a pass never take more than maxQueue samples of memory.

import { InternalError } from '../errors.js';
import { HttpError } from './http-error.js';

/** What one forward pass returns for `count` samples. */
export interface Scored {
  error: Float32Array;
  /** Present when asked for: [count, C, H, W] reconstructions. */
  reconstruction?: Float32Array;
}

export type Scorer = (samples: Float32Array, count: number, withReconstruction: boolean) => Promise<Scored>;

export interface BatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
  /** Samples admitted (decoding or queued, not yet in a pass) beyond which new requests are refused. */
  maxQueue: number;
  /** Values per sample. */
  sampleSize: number;
}

/** The queue cannot take the request now: a 503 whose Retry-After is a second (the queue drains that fast). */
export class QueueFullError extends HttpError {
  constructor(message: string) {
    super(503, message, { 'Retry-After': '1' });
  }
}

/** Room for a request's samples in the queue, taken before they are decoded. */
export interface Admission {
  submit(samples: Float32Array, withReconstruction: boolean, signal?: AbortSignal): Promise<Scored>;
  cancel(): void;
}

interface Pending {
  samples: Float32Array;
  count: number;
  withReconstruction: boolean;
  arrived: number;
  resolve: (scored: Scored) => void;
  reject: (err: unknown) => void;
  detach: () => void;
}

export class Batcher {
  private readonly queue: Pending[] = [];
  /** Samples queued for a pass. */
  private waiting = 0;
  /** Samples admitted and still being decoded. */
  private reserved = 0;
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly score: Scorer,
    private readonly options: BatcherOptions,
    /** Called after every pass with its size and duration (metrics). */
    private readonly onPass: (samples: number, seconds: number) => void = () => {},
  ) {}

  /** Whether a pass is running now. */
  get busy(): boolean {
    return this.running;
  }

  /** Samples queued and not yet in a pass. */
  get depth(): number {
    return this.waiting;
  }

  /** Samples admitted whose request is still decoding them. */
  get admitted(): number {
    return this.reserved;
  }

  /**
   * Takes room for `count` samples before they exist, so that a request's images count against
   * maxQueue while they decode: throws QueueFullError when there is none. The room is given back by
   * submit (the samples then wait in the queue) or by cancel.
   */
  admit(count: number): Admission {
    if (this.reserved + this.waiting + count > this.options.maxQueue) {
      throw new QueueFullError(`the queue holds ${this.reserved + this.waiting} of at most ${this.options.maxQueue} samples; ${count} more do not fit`);
    }
    this.reserved += count;
    let open = true;
    const close = () => {
      if (open) this.reserved -= count;
      open = false;
    };
    return {
      submit: (samples, withReconstruction, signal) => {
        if (!open) throw new InternalError('batcher: an admission is used once');
        close();
        return this.enqueue(samples, count, withReconstruction, signal);
      },
      cancel: close,
    };
  }

  /** admit and submit at once. */
  submit(samples: Float32Array, count: number, withReconstruction: boolean, signal?: AbortSignal): Promise<Scored> {
    try {
      return this.admit(count).submit(samples, withReconstruction, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Queues admitted samples; resolves with their results only. Rejects with the signal's reason when
   * it aborts before the pass starts (the samples are then dropped unscored), or with the pass's error.
   */
  private enqueue(samples: Float32Array, count: number, withReconstruction: boolean, signal?: AbortSignal): Promise<Scored> {
    if (samples.length !== count * this.options.sampleSize) return Promise.reject(new RangeError(`batcher: ${samples.length} values for ${count} samples`));
    return new Promise<Scored>((resolve, reject) => {
      const item: Pending = { samples, count, withReconstruction, arrived: Date.now(), resolve, reject, detach: () => {} };
      if (signal) {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => {
          const at = this.queue.indexOf(item);
          if (at < 0) return; // already in a pass: its result is simply not used
          this.queue.splice(at, 1);
          this.waiting -= count;
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        item.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(item);
      this.waiting += count;
      this.schedule();
    });
  }

  /** Rejects every queued request with `err` (device loss, shutdown); a running pass is left alone. */
  failQueued(err: unknown): void {
    for (const item of this.queue.splice(0)) {
      item.detach();
      item.reject(err);
    }
    this.waiting = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    // The oldest request decides: it never waits more than maxDelayMs for company once the GPU is idle.
    const wait = this.waiting >= this.options.maxBatch ? 0 : this.options.maxDelayMs - (Date.now() - this.queue[0].arrived);
    if (wait <= 0) void this.runPass();
    else this.timer = setTimeout(() => void this.runPass(), wait);
  }

  private takeBatch(): Pending[] {
    const taken: Pending[] = [];
    let samples = 0;
    // Requests are never split; one larger than maxBatch runs alone (the model chunks it).
    while (this.queue.length > 0 && (taken.length === 0 || samples + this.queue[0].count <= this.options.maxBatch)) {
      const item = this.queue.shift()!;
      item.detach();
      taken.push(item);
      samples += item.count;
    }
    this.waiting -= samples;
    return taken;
  }

  private async runPass(): Promise<void> {
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.takeBatch();
    const per = this.options.sampleSize;
    const total = batch.reduce((n, item) => n + item.count, 0);
    const samples = batch.length === 1 ? batch[0].samples : new Float32Array(total * per);
    if (batch.length > 1) {
      let at = 0;
      for (const item of batch) {
        samples.set(item.samples, at * per);
        at += item.count;
      }
    }
    const started = performance.now();
    try {
      const scored = await this.score(samples, total, batch.some((item) => item.withReconstruction));
      this.onPass(total, (performance.now() - started) / 1000);
      let at = 0;
      for (const item of batch) {
        item.resolve({
          error: scored.error.slice(at, at + item.count),
          reconstruction: item.withReconstruction ? scored.reconstruction!.slice(at * per, (at + item.count) * per) : undefined,
        });
        at += item.count;
      }
    } catch (err) {
      for (const item of batch) item.reject(err);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
