// Per-sample mean SSIM over the valid 11x11 windows of each channel (Gaussian window, sigma 1.5;
// GAUSS, C1 and C2 come from the prelude). One workgroup per sample walks the channels and 16x16
// tiles of output pixels: it loads the tile's 26x26 input patch of a and b into workgroup memory,
// filters the five moments (a, b, a^2, b^2, ab) horizontally into HSUM, then vertically per output
// pixel, the filter being separable. Each invocation keeps a running SSIM sum over its pixels of
// every tile; the sums meet in a pairwise tree at the end.

const TILE = 16u;
const RADIUS = 5u;
const SPAN = 26u;              // TILE + 2 * RADIUS
const ROWS_H = 416u;           // SPAN rows x TILE columns after the horizontal pass
const WG = 256u;               // TILE * TILE

@group(0) @binding(0) var<uniform> params: SsimParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

var<workgroup> patchA: array<f32, 676>;   // SPAN * SPAN
var<workgroup> patchB: array<f32, 676>;
var<workgroup> hsum: array<f32, 2080>;    // 5 moments x ROWS_H
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sample = wid.z * params.tilesX + wid.x;
  let live = sample < params.batch;
  let h = params.height;
  let w = params.width;
  let outH = h - 2u * RADIUS;
  let outW = w - 2u * RADIUS;
  let tilesY = (outH + TILE - 1u) / TILE;
  let tilesX = (outW + TILE - 1u) / TILE;
  let channels = select(0u, params.channels, live);
  let base = select(0u, sample * params.channels * h * w, live);
  let ly = lid / TILE;
  let lx = lid % TILE;

  var total = 0.0;
  for (var c = 0u; c < channels; c++) {
    let plane = base + c * h * w;
    for (var t = 0u; t < tilesY * tilesX; t++) {
      let y0 = (t / tilesX) * TILE;
      let x0 = (t % tilesX) * TILE;
      workgroupBarrier();
      for (var i = lid; i < SPAN * SPAN; i += WG) {
        let y = y0 + i / SPAN;
        let x = x0 + i % SPAN;
        let inside = y < h && x < w;
        let at = select(0u, plane + y * w + x, inside);
        patchA[i] = select(0.0, a[at], inside);
        patchB[i] = select(0.0, b[at], inside);
      }
      workgroupBarrier();
      for (var i = lid; i < ROWS_H; i += WG) {
        let row = i / TILE;
        let col = i % TILE;
        var m = vec4f(0.0);
        var ab = 0.0;
        for (var k = 0u; k < 2u * RADIUS + 1u; k++) {
          let p = row * SPAN + col + k;
          let va = patchA[p];
          let vb = patchB[p];
          m += GAUSS[k] * vec4f(va, vb, va * va, vb * vb);
          ab += GAUSS[k] * va * vb;
        }
        hsum[i] = m.x;
        hsum[ROWS_H + i] = m.y;
        hsum[2u * ROWS_H + i] = m.z;
        hsum[3u * ROWS_H + i] = m.w;
        hsum[4u * ROWS_H + i] = ab;
      }
      workgroupBarrier();
      var m = vec4f(0.0);
      var ab = 0.0;
      for (var k = 0u; k < 2u * RADIUS + 1u; k++) {
        let p = (ly + k) * TILE + lx;
        m += GAUSS[k] * vec4f(hsum[p], hsum[ROWS_H + p], hsum[2u * ROWS_H + p], hsum[3u * ROWS_H + p]);
        ab += GAUSS[k] * hsum[4u * ROWS_H + p];
      }
      let mab = m.x * m.y;
      let va = m.z - m.x * m.x;
      let vb = m.w - m.y * m.y;
      let cov = ab - mab;
      let s = ((2.0 * mab + C1) * (2.0 * cov + C2)) / ((m.x * m.x + m.y * m.y + C1) * (va + vb + C2));
      if (y0 + ly < outH && x0 + lx < outW) {
        total += s;
      }
    }
  }
  partial[lid] = total;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) {
      partial[lid] += partial[lid + width];
    }
    workgroupBarrier();
  }
  if (live && lid == 0u) {
    output[sample] = partial[0] / f32(params.channels * outH * outW);
  }
}
