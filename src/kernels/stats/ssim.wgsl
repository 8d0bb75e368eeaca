// Per-sample mean SSIM over the valid 11x11 windows of each channel (Gaussian window, sigma 1.5;
// GAUSS, C1 and C2 come from the prelude). One workgroup per sample; each invocation owns pairs of
// output columns (the windows' left edges x0 = 2 lid, 2 lid + 2 WG, ... and x0 + 1) and walks down
// the rows of every channel: it filters each input row horizontally at its columns into the five
// moments (a, b, a^2, b^2, ab) and feeds them to the vertical filter in transposed form: pending[k]
// holds the partial sum of the output row that still awaits K - 1 - k input rows, so each new row is
// one multiply-add per pending output and the oldest completes (pending[0] = sum over i of
// GAUSS[i] * row[r + i]). The arrays are indexed only by constants (fixed-count loops), so compilers
// keep them in registers; a ring of past rows indexed by y % 11 would live in scratch memory (the
// ring kernel took about twice this one's time side by side on llvmpipe; bench/NOTES.md). No
// workgroup memory or barrier until the final pairwise tree of the invocations' running sums:
// barriers are what software adapters pay most for.

override WG: u32 = 64u;
const K = 11u;                 // window side; the valid output is (H - K + 1) x (W - K + 1)
const HALF = 5u;               // (K - 1) / 2: the centre tap

@group(0) @binding(0) var<uniform> params: ImagePairParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

// SSIM of one window from its Gaussian-weighted moments m = (a, b, a^2, b^2) and ab.
fn ssim(m: vec4f, ab: f32) -> f32 {
  let mab = m.x * m.y;
  let va = m.z - m.x * m.x;
  let vb = m.w - m.y * m.y;
  let cov = ab - mab;
  return ((2.0 * mab + C1) * (2.0 * cov + C2)) / ((m.x * m.x + m.y * m.y + C1) * (va + vb + C2));
}

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
    // Two adjacent output columns per step: their windows share 10 of the 12 input columns, so the
    // loads and the per-pixel products are made once for both.
    for (var x0 = 2u * lid; x0 < outW; x0 += 2u * WG) {
      let pair = x0 + 1u < outW;              // an odd last column has no partner
      var pending0: array<vec4f, K>;          // moments (a, b, a^2, b^2) of column x0's pending rows
      var pending1: array<vec4f, K>;          // and of column x0 + 1's
      var pendingAb0: array<f32, K>;          // their ab
      var pendingAb1: array<f32, K>;
      var column = 0.0;
      for (var y = 0u; y < h; y++) {
        let row = plane + y * w + x0;
        // px[k]: (a, b, a^2, b^2) at column x0 + k, pab[k]: ab; without a partner the 12th repeats the 11th.
        var px: array<vec4f, K + 1u>;
        var pab: array<f32, K + 1u>;
        for (var k = 0u; k <= K; k++) {
          let at = row + select(min(k, K - 1u), k, pair);
          let va = a[at];
          let vb = b[at];
          px[k] = vec4f(va, vb, va * va, vb * vb);
          pab[k] = va * vb;
        }
        // The window is symmetric: taps k and K - 1 - k share a weight, so add them first.
        var m0 = GAUSS[HALF] * px[HALF];
        var m1 = GAUSS[HALF] * px[HALF + 1u];
        var ab0 = GAUSS[HALF] * pab[HALF];
        var ab1 = GAUSS[HALF] * pab[HALF + 1u];
        for (var k = 0u; k < HALF; k++) {
          m0 += GAUSS[k] * (px[k] + px[K - 1u - k]);
          m1 += GAUSS[k] * (px[k + 1u] + px[K - k]);
          ab0 += GAUSS[k] * (pab[k] + pab[K - 1u - k]);
          ab1 += GAUSS[k] * (pab[k + 1u] + pab[K - k]);
        }
        // Row y is tap K - 1 - k of pending[k + 1]'s output row, which moves down to pending[k];
        // the window's symmetry makes that weight GAUSS[k].
        for (var k = 0u; k + 1u < K; k++) {
          pending0[k] = pending0[k + 1u] + GAUSS[k] * m0;
          pending1[k] = pending1[k + 1u] + GAUSS[k] * m1;
          pendingAb0[k] = pendingAb0[k + 1u] + GAUSS[k] * ab0;
          pendingAb1[k] = pendingAb1[k + 1u] + GAUSS[k] * ab1;
        }
        pending0[K - 1u] = GAUSS[K - 1u] * m0;
        pending1[K - 1u] = GAUSS[K - 1u] * m1;
        pendingAb0[K - 1u] = GAUSS[K - 1u] * ab0;
        pendingAb1[K - 1u] = GAUSS[K - 1u] * ab1;
        if (y + 1u >= K) {
          column += ssim(pending0[0], pendingAb0[0]);
          if (pair) {
            column += ssim(pending1[0], pendingAb1[0]);
          }
        }
      }
      total += column;
    }
  }
  storeSampleMean(lid, total, live, sample, params.channels * outH * outW);
}
