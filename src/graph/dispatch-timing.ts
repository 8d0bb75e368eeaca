// Times one bound dispatch for autotuning. A sub-millisecond dispatch timed alone measures the
// submit-and-wait round trip, not the kernel, so each sample is `repeat` back-to-back dispatches in one
// compute pass, and `repeat` grows until the shortest sample lasts at least a floor (2 ms by default).
// Where the device has timestamp-query, a sample is the GPU time between the pass's beginning and end
// (open the device with exactTimestamps, or Dawn rounds them to ~65 us); elsewhere the wall clock
// around submit and wait.
import type { Gpu } from '../gpu/device.js';
import { PassTimestamps } from '../gpu/timestamps.js';
import type { BoundDispatch } from '../kernels/dispatch.js';
import { InternalError } from '../errors.js';

export type TimingMethod = 'timestamp queries' | 'wall clock';

export interface DispatchTiming {
  /** Median milliseconds per dispatch. */
  ms: number;
  /** Dispatches per sample. */
  repeat: number;
  /** The shortest sample in ms: at least the floor, unless `repeat` reached its cap. */
  minSampleMs: number;
}

export interface DispatchTimingOptions {
  /** Shortest acceptable sample, in ms (default 2). */
  floorMs?: number;
  /** Samples per measurement; the median is reported (default 3). */
  samples?: number;
  /** Most dispatches per sample (default 4096). */
  maxRepeat?: number;
}

const DEFAULT_FLOOR_MS = 2;
const GROWTH_CAP = 64;
const MAX_ROUNDS = 8;

export class DispatchTimer {
  readonly method: TimingMethod;
  readonly floorMs: number;
  readonly samples: number;
  readonly maxRepeat: number;
  private readonly timestamps: PassTimestamps | undefined;

  constructor(
    private readonly gpu: Gpu,
    options: DispatchTimingOptions = {},
  ) {
    this.floorMs = options.floorMs ?? DEFAULT_FLOOR_MS;
    this.samples = options.samples ?? 3;
    this.maxRepeat = options.maxRepeat ?? 4096;
    if (!(this.floorMs >= 0) || !Number.isInteger(this.samples) || this.samples < 1 || !Number.isInteger(this.maxRepeat) || this.maxRepeat < 1) {
      throw new InternalError(`dispatch timing: bad options (floor ${this.floorMs} ms, ${this.samples} samples, repeat cap ${this.maxRepeat})`);
    }
    this.timestamps = gpu.features.has('timestamp-query') ? new PassTimestamps(gpu, 1) : undefined;
    this.method = this.timestamps ? 'timestamp queries' : 'wall clock';
  }

  /** Milliseconds of one sample: `repeat` dispatches in one pass, one submission, waited for. */
  private async sample(dispatch: BoundDispatch, repeat: number): Promise<number> {
    const { gpu, timestamps } = this;
    return gpu.checked(`timing ${dispatch.label}`, async () => {
      const start = performance.now();
      gpu.submit((encoder) => {
        const pass = encoder.beginComputePass(timestamps ? { label: dispatch.label, timestampWrites: timestamps.writes(0) } : { label: dispatch.label });
        for (let i = 0; i < repeat; i++) dispatch.encode(pass);
        pass.end();
        timestamps?.resolve(encoder);
      });
      await gpu.onSubmittedWorkDone();
      const wall = performance.now() - start;
      // A counter that went backwards (a reset between the two writes) leaves the wall clock.
      const gpuMs = timestamps ? (await timestamps.durationsMs())[0] : NaN;
      return Number.isFinite(gpuMs) ? gpuMs : wall;
    });
  }

  /** Median ms per dispatch, with `repeat` grown until every sample reaches the floor (or the cap). */
  async time(dispatch: BoundDispatch): Promise<DispatchTiming> {
    await this.sample(dispatch, 1); // compile, first touch
    let repeat = 1;
    for (let round = 1; ; round++) {
      const times: number[] = [];
      for (let i = 0; i < this.samples; i++) times.push(await this.sample(dispatch, repeat));
      times.sort((a, b) => a - b);
      const minSampleMs = times[0];
      if (minSampleMs >= this.floorMs || repeat >= this.maxRepeat || round >= MAX_ROUNDS) {
        return { ms: times[Math.floor(times.length / 2)] / repeat, repeat, minSampleMs };
      }
      // Aim a quarter above the floor so that the next round's shortest sample clears it.
      const factor = minSampleMs > 0 ? Math.ceil((1.25 * this.floorMs) / minSampleMs) : GROWTH_CAP;
      repeat = Math.min(this.maxRepeat, repeat * Math.min(GROWTH_CAP, Math.max(2, factor)));
    }
  }

  destroy(): void {
    this.timestamps?.destroy();
  }
}
