// Per-sample high-frequency error: output[s] = mean over the interior pixels (1..H-2, 1..W-2) of
// (Laplacian of g)^2, g = the channel mean of a - b, with the 4-neighbour 3x3 Laplacian. The border
// pixels are left out rather than reflected: an autoencoder's errors pile up along the image's edge
// for every image alike, which only dilutes the detail the score is for. One workgroup per sample;
// each invocation owns interior columns x = 1 + lid, 1 + lid + WG, ... and walks down the rows,
// carrying g above and at the centre from the row before, so a pixel costs three new values of g
// (below, left, right) and no integer division (which CPU adapters cannot vectorise). A sequential
// f32 sum runs over one column (H - 2 terms); columns add up after it, and the invocations meet in
// sample-mean.wgsl's pairwise tree.

override WG: u32 = 128u;

@group(0) @binding(0) var<uniform> params: ImagePairParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

// The channel mean of a - b at pixel offset i of the sample starting at base.
fn g(base: u32, i: u32) -> f32 {
  let plane = params.height * params.width;
  var sum = 0.0;
  for (var c = 0u; c < params.channels; c++) {
    let at = base + c * plane + i;
    sum += a[at] - b[at];
  }
  return sum / f32(params.channels);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sample = wid.z * params.tilesX + wid.x;
  let live = sample < params.batch;
  let h = params.height;
  let w = params.width;
  let base = select(0u, sample * params.channels * h * w, live);
  let last = select(0u, w - 1u, live);   // columns 1 .. w - 2; none for a padding workgroup

  var total = 0.0;
  for (var x = 1u + lid; x < last; x += WG) {
    var above = g(base, x);
    var centre = g(base, w + x);
    var column = 0.0;
    for (var y = 1u; y + 1u < h; y++) {
      let row = y * w + x;
      let below = g(base, row + w);
      let lap = above + below + g(base, row - 1u) + g(base, row + 1u) - 4.0 * centre;
      column += lap * lap;
      above = centre;
      centre = below;
    }
    total += column;
  }
  storeSampleMean(lid, total, live, sample, (h - 2u) * (w - 2u));
}
