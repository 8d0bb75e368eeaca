// Float64 reference for the standalone tanh (Math.tanh saturates cleanly for any input).
export function tanhReference(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.tanh(v));
}
