// Per-sample mean SSIM over the valid 11x11 windows of each channel (Gaussian window, sigma 1.5;
// GAUSS, C1 and C2 come from the prelude). One workgroup per sample; each invocation owns output
// columns (the window's left edge x0 = lid, lid + WG, ...) and walks down the rows of every channel:
// it filters each input row horizontally at its column into the five moments (a, b, a^2, b^2, ab)
// and feeds them to the vertical filter in transposed form: pending[k] holds the partial sum of the
// output row that still awaits K - 1 - k input rows, so each new row is one multiply-add per pending
// output and the oldest completes (pending[0] = sum over i of GAUSS[i] * row[r + i]). The pending
// sums are indexed only by constants (fixed-count loops), so compilers keep them in registers; a
// ring of past rows indexed by y % 11 would live in scratch memory. No workgroup memory or barrier
// until the final pairwise tree of the invocations' running sums: barriers are what software
// adapters pay most for.

override WG: u32 = 128u;
const K = 11u;                 // window side; the valid output is (H - K + 1) x (W - K + 1)
const HALF = 5u;               // (K - 1) / 2: the centre tap

@group(0) @binding(0) var<uniform> params: ImagePairParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sample = wid.z * params.tilesX + wid.x;
  let live = sample < params.batch;
  let h = params.height;
  let w = params.width;
  let outH = h - K + 1u;
  let outW = w - K + 1u;
  let channels = select(0u, params.channels, live);
  let base = select(0u, sample * params.channels * h * w, live);

  var total = 0.0;
  for (var c = 0u; c < channels; c++) {
    let plane = base + c * h * w;
    for (var x0 = lid; x0 < outW; x0 += WG) {
      var pending: array<vec4f, K>;     // moments (a, b, a^2, b^2) of the pending output rows
      var pendingAb: array<f32, K>;     // and their ab
      var column = 0.0;
      for (var y = 0u; y < h; y++) {
        let row = plane + y * w + x0;
        // The window is symmetric: taps k and K - 1 - k share a weight, so add them first.
        let ca = a[row + HALF];
        let cb = b[row + HALF];
        var m = GAUSS[HALF] * vec4f(ca, cb, ca * ca, cb * cb);
        var ab = GAUSS[HALF] * ca * cb;
        for (var k = 0u; k < HALF; k++) {
          let va = a[row + k];
          let vb = b[row + k];
          let wa = a[row + K - 1u - k];
          let wb = b[row + K - 1u - k];
          m += GAUSS[k] * vec4f(va + wa, vb + wb, va * va + wa * wa, vb * vb + wb * wb);
          ab += GAUSS[k] * (va * vb + wa * wb);
        }
        // Row y is tap K - 1 - k of pending[k + 1]'s output row, which moves down to pending[k];
        // the window's symmetry makes that weight GAUSS[k].
        for (var k = 0u; k + 1u < K; k++) {
          pending[k] = pending[k + 1u] + GAUSS[k] * m;
          pendingAb[k] = pendingAb[k + 1u] + GAUSS[k] * ab;
        }
        pending[K - 1u] = GAUSS[K - 1u] * m;
        pendingAb[K - 1u] = GAUSS[K - 1u] * ab;
        if (y + 1u >= K) {
          let s = pending[0];
          let mab = s.x * s.y;
          let va = s.z - s.x * s.x;
          let vb = s.w - s.y * s.y;
          let cov = pendingAb[0] - mab;
          column += ((2.0 * mab + C1) * (2.0 * cov + C2)) / ((s.x * s.x + s.y * s.y + C1) * (va + vb + C2));
        }
      }
      total += column;
    }
  }
  storeSampleMean(lid, total, live, sample, params.channels * outH * outW);
}
