// Per-sample high-frequency error: output[s] = mean over C*H*W of (Laplacian of (a - b))^2, the
// 4-neighbour 3x3 Laplacian with reflect-101 borders (index -1 reads 1, index n reads n - 2). One
// workgroup per sample; the sum is split like the MSE kernel's (strided chunks of CHUNK terms, then a
// pairwise tree), so no sequential f32 sum grows long.

override WG: u32 = 256u;
const CHUNK = 16u;

@group(0) @binding(0) var<uniform> params: ImagePairParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

fn reflect101(i: i32, n: i32) -> i32 {
  if (i < 0) { return -i; }
  if (i >= n) { return 2 * (n - 1) - i; }
  return i;
}

fn diff(base: u32, plane: u32, y: i32, x: i32) -> f32 {
  let h = i32(params.height);
  let w = i32(params.width);
  let i = base + plane + u32(reflect101(y, h) * w + reflect101(x, w));
  return a[i] - b[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sample = wid.z * params.tilesX + wid.x;
  let live = sample < params.batch;
  let area = params.height * params.width;
  let perSample = params.channels * area;
  let base = select(0u, sample * perSample, live);
  let n = select(0u, perSample, live);

  var total = 0.0;
  for (var start = 0u; start < n; start += WG * CHUNK) {
    var part = 0.0;
    for (var q = 0u; q < CHUNK; q++) {
      let i = start + q * WG + lid;
      if (i < n) {
        let plane = (i / area) * area;
        let y = i32((i % area) / params.width);
        let x = i32(i % params.width);
        let lap = diff(base, plane, y - 1, x) + diff(base, plane, y + 1, x) + diff(base, plane, y, x - 1) + diff(base, plane, y, x + 1) - 4.0 * diff(base, plane, y, x);
        part += lap * lap;
      }
    }
    total += part;
  }
  storeSampleMean(lid, total, live, sample, perSample);
}
