// Per-sample high-frequency error: output[s] = mean over C*H*W of (Laplacian of (a - b))^2, the
// 4-neighbour 3x3 Laplacian with reflect-101 borders (index -1 reads 1, index n reads n - 2). One
// workgroup per sample; each invocation owns columns x = lid, lid + WG, ... and walks down every
// channel's rows, carrying the difference above and at the centre from the row before, so a pixel
// costs three new differences (below, left, right) and no integer division (which CPU adapters
// cannot vectorise). A sequential f32 sum runs over one column of one channel (H terms); columns and
// channels add up after it, and the invocations meet in sample-mean.wgsl's pairwise tree.

override WG: u32 = 128u;

@group(0) @binding(0) var<uniform> params: ImagePairParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

fn reflect101(i: i32, n: i32) -> u32 {
  if (i < 0) { return u32(-i); }
  if (i >= n) { return u32(2 * (n - 1) - i); }
  return u32(i);
}

fn diff(i: u32) -> f32 {
  return a[i] - b[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sample = wid.z * params.tilesX + wid.x;
  let live = sample < params.batch;
  let h = params.height;
  let w = params.width;
  let channels = select(0u, params.channels, live);
  let base = select(0u, sample * params.channels * h * w, live);

  var total = 0.0;
  for (var c = 0u; c < channels; c++) {
    let plane = base + c * h * w;
    for (var x = lid; x < w; x += WG) {
      let left = reflect101(i32(x) - 1, i32(w));
      let right = reflect101(i32(x) + 1, i32(w));
      var above = diff(plane + w + x);       // row -1 reflects to row 1
      var centre = diff(plane + x);
      var column = 0.0;
      for (var y = 0u; y < h; y++) {
        let row = plane + y * w;
        let below = diff(plane + reflect101(i32(y) + 1, i32(h)) * w + x);
        let lap = above + below + diff(row + left) + diff(row + right) - 4.0 * centre;
        column += lap * lap;
        above = centre;
        centre = below;
      }
      total += column;
    }
  }
  storeSampleMean(lid, total, live, sample, params.channels * h * w);
}
