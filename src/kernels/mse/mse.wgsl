// Per-sample mean squared error: output[s] = mean over i < perSample of (a[s, i] - b[s, i])^2.
// One workgroup per sample. Each invocation sums its strided share in chunks of CHUNK terms (a
// short sequential sum per chunk, then one add per chunk into its running total), which keeps
// every sequential f32 sum short; the WG partial sums then meet in a pairwise tree (sample-mean.wgsl). For 49152
// terms and WG = 256 no sequential run is longer than ~30 adds.

override WG: u32 = 256u;
const CHUNK = 16u;

@group(0) @binding(0) var<uniform> params: MseParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sample = wid.z * params.tilesX + wid.x;
  let live = sample < params.batch;
  let base = select(0u, sample * params.perSample, live);
  let n = select(0u, params.perSample, live);

  var total = 0.0;
  for (var start = 0u; start < n; start += WG * CHUNK) {
    var part = 0.0;
    for (var q = 0u; q < CHUNK; q++) {
      let i = start + q * WG + lid;
      if (i < n) {
        let d = a[base + i] - b[base + i];
        part += d * d;
      }
    }
    total += part;
  }
  storeSampleMean(lid, total, live, sample, params.perSample);
}
