// Float64 reference for the per-sample mean squared error.
export function mseReference(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, perSample: number): Float64Array {
  const out = new Float64Array(batch);
  for (let s = 0; s < batch; s++) {
    let sum = 0;
    for (let i = s * perSample; i < (s + 1) * perSample; i++) sum += (a[i] - b[i]) ** 2;
    out[s] = sum / perSample;
  }
  return out;
}
