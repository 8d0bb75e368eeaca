// GPU time of compute passes from timestamp queries written at each pass's beginning and end, and
// whether the device quantizes them. Dawn rounds every timestamp down to a multiple of 65,536 ns
// (~65 us) unless the device was opened with its `timestamp_quantization` toggle disabled
// (OpenOptions.exactTimestamps), which makes small layers read as 0 or 65 us; the probe below says
// which of the two a device does, from the values it returns rather than from what was asked for.
import { type Gpu, GpuError } from './device.js';

/** Dawn's quantization mask keeps the bits above 2^16 ns (kTimestampQuantizationMask). */
const QUANTUM = 65536n;

/** Whether a device's timestamps are quantized, as observed; 'unknown' without timestamp-query or values. */
export type TimestampQuantization = 'on' | 'off' | 'unknown';

/** Timestamp queries for `passes` compute passes: pass i writes 2i at its beginning and 2i+1 at its end. */
export class PassTimestamps {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly count: number;

  constructor(
    private readonly gpu: Gpu,
    readonly passes: number,
  ) {
    if (!gpu.features.has('timestamp-query')) throw new GpuError('timestamp queries need the timestamp-query feature, which this adapter lacks');
    if (!Number.isInteger(passes) || passes < 1) throw new GpuError(`timestamp queries: bad pass count ${passes}`);
    this.count = 2 * passes;
    this.querySet = gpu.device.createQuerySet({ type: 'timestamp', count: this.count });
    this.resolved = gpu.device.createBuffer({ size: this.count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readback = gpu.device.createBuffer({ size: this.count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** The timestampWrites of pass `i` (0-based). */
  writes(i: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Encodes the resolve and the copy for reading; call once, after the last pass, in the same encoder. */
  resolve(encoder: GPUCommandEncoder): void {
    encoder.resolveQuerySet(this.querySet, 0, this.count, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, this.readback, 0, this.count * 8);
  }

  /** The raw values in nanoseconds, once the submission that resolved them is done. */
  async ticks(): Promise<BigUint64Array> {
    await this.readback.mapAsync(GPUMapMode.READ);
    const copy = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return copy;
  }

  /** Milliseconds per pass; NaN where the end precedes the beginning (a counter reset). */
  async durationsMs(): Promise<number[]> {
    const t = await this.ticks();
    return Array.from({ length: this.passes }, (_, i) => (t[2 * i + 1] >= t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) / 1e6 : NaN));
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
    this.readback.destroy();
  }
}

/** 'on' when every value is a multiple of Dawn's quantum, 'off' when one is not; 'unknown' when all are 0. */
export function quantizationOf(ticks: ArrayLike<bigint>): TimestampQuantization {
  const values = Array.from(ticks);
  if (values.every((t) => t === 0n)) return 'unknown';
  return values.every((t) => t % QUANTUM === 0n) ? 'on' : 'off';
}

/**
 * Writes the timestamps of 8 empty compute passes and says whether they were quantized. Chance alone
 * makes 16 unquantized values all multiples of 2^16 with probability 2^-256.
 */
export async function probeTimestampQuantization(gpu: Gpu): Promise<TimestampQuantization> {
  if (!gpu.features.has('timestamp-query')) return 'unknown';
  const timestamps = new PassTimestamps(gpu, 8);
  try {
    const ticks = await gpu.checked('timestamp quantization probe', async () => {
      gpu.submit((encoder) => {
        for (let i = 0; i < timestamps.passes; i++) encoder.beginComputePass({ label: 'timestamp probe', timestampWrites: timestamps.writes(i) }).end();
        timestamps.resolve(encoder);
      });
      return timestamps.ticks();
    });
    return quantizationOf(ticks);
  } finally {
    timestamps.destroy();
  }
}
