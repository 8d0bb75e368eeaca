// What a Dropout2d mask is, shared by the kernel and its reference: channel c of sample s at
// training step `step` in dropout layer `stream` is dropped when the top 24 bits of the first word
// of Philox4x32-10(counter (c, s, step, stream), key seed) fall below p * 2^24; kept channels are
// scaled by 1 / (1 - p) (as float32, as torch divides its mask by 1 - p). Integer thresholds make
// the decision exact on every device.

export interface DropKey {
  /** The seed as Philox's key: low word, high word. */
  key: [number, number];
  /** Dropped when (word >> 8) < threshold. */
  threshold: number;
  /** The value of a kept channel's mask. */
  scale: number;
}

export function dropKeyOf(seed: number, p: number): DropKey {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`dropout seed ${seed} is not a non-negative safe integer`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout rate ${p} is not within [0, 1]`);
  return {
    key: [seed % 2 ** 32, Math.floor(seed / 2 ** 32)],
    threshold: Math.round(p * 2 ** 24),
    scale: p === 1 ? 0 : Math.fround(1 / Math.fround(1 - p)),
  };
}
