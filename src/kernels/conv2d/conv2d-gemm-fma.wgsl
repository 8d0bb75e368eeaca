// The GEMM convolution (gemm-tiles.wgsl) with plain FMA register tiles: each invocation accumulates
// TP pixels x TC channels of the BP x BC tile in f32, reading both operands from workgroup memory.
// The fp32 kernel for GPUs without (or f32 work without) tensor cores, and the f16-storage kernel
// where subgroup matrices are missing. WG = (BC / TC) * (BP / TP); TP and TC are multiples of 4.
//
// Both tiles hold vec4<f32> rows, k-major: tileA [2][BK][A_STRIDE / 4] (pixels along a row, rows
// padded so that the transposing commit spreads over the banks), tileB [2][BK][B_STRIDE / 4]
// (channels along a row). An invocation's pixels and channels are interleaved in quads across its
// neighbours: its i-th pixel quad is quad i * NP + tp of the row, its j-th channel quad j * NC + tc,
// so that consecutive invocations read consecutive vec4 (conflict-free) or the same one (broadcast).

override TRANSPOSED: bool = false;

const A4 = A_STRIDE / 4u;
const B4 = B_STRIDE / 4u;
// Invocations along the pixels and along the channels of the tile.
const NP = BP / TP;
const NC = BC / TC;

var<workgroup> tileA: array<vec4<f32>, 2u * BK * A4>;
var<workgroup> tileB: array<vec4<f32>, 2u * BK * B4>;

// A quad of A is 4 k of one pixel: transposed into 4 rows, one float each. B's is a row's vec4.
fn commit(buf: u32) {
  for (var i = 0u; i < A_QUADS; i++) {
    let at = quadOfA(i);
    if (at.z == 0u) {
      break;
    }
    let row = (buf * BK + 4u * at.y) * A4 + at.x / 4u;
    let px = at.x % 4u;
    let v = fetchedA[i];
    for (var j = 0u; j < 4u; j++) {
      tileA[row + j * A4][px] = v[j];
    }
  }
  for (var i = 0u; i < B_QUADS; i++) {
    let at = quadOfB(i);
    if (at.z == 0u) {
      break;
    }
    tileB[(buf * BK + at.x) * B4 + at.y] = vec4<f32>(fetchedB[i]);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = place(wid);
  let steps = stepCount(p);
  setup(p, lid);
  let tc = lid % NC;
  let tp = lid / NC;
  // acc[i][j]: pixel i (of TP), channels 4j..4j+3 (of TC).
  var acc: array<array<vec4<f32>, TC / 4u>, TP>;
  if (steps > 0u) {
    fetch(p, 0u);
    commit(0u);
  }
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let buf = s & 1u;
    if (s + 1u < steps) {
      fetch(p, s + 1u);
    }
    for (var k = 0u; k < BK; k++) {
      let aRow = (buf * BK + k) * A4 + tp;
      let bRow = (buf * BK + k) * B4 + tc;
      var a: array<vec4<f32>, TP / 4u>;
      var b: array<vec4<f32>, TC / 4u>;
      for (var i = 0u; i < TP / 4u; i++) {
        a[i] = tileA[aRow + i * NP];
      }
      for (var j = 0u; j < TC / 4u; j++) {
        b[j] = tileB[bRow + j * NC];
      }
      for (var i = 0u; i < TP; i++) {
        let x = vec4<f32>(a[i / 4u][i % 4u]);
        for (var j = 0u; j < TC / 4u; j++) {
          acc[i][j] = fma(x, b[j], acc[i][j]);
        }
      }
    }
    if (s + 1u < steps) {
      commit(buf ^ 1u);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TP; i++) {
    let row = ((i / 4u) * NP + tp) * 4u + i % 4u;
    for (var j = 0u; j < TC / 4u; j++) {
      let col = (j * NC + tc) * 4u;
      for (var c = 0u; c < 4u; c++) {
        emit(p, row, col + c, acc[i][j][c]);
      }
    }
  }
}
