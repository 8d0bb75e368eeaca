// The GEMM convolution (gemm-tiles.wgsl) with plain FMA register tiles: each invocation accumulates
// TP pixels x TC channels of the BP x BC tile in f32, reading both operands from workgroup memory.
// The fp32 kernel for GPUs without (or f32 work without) tensor cores, and the f16-storage kernel
// where subgroup matrices are missing. WG = (BC / TC) * (BP / TP).

override TRANSPOSED: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = place(wid);
  let steps = stepCount(p);
  setup(p, lid);
  let tc = lid % (BC / TC);
  let tp = lid / (BC / TC);
  var acc: array<array<f32, TC>, TP>;
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
    let aBase = buf * BK * BP + tp * TP;
    let bBase = buf * BK * BC + tc * TC;
    for (var k = 0u; k < BK; k++) {
      var a: array<f32, TP>;
      var b: array<f32, TC>;
      for (var i = 0u; i < TP; i++) {
        a[i] = f32(tileA[aBase + k * BP + i]);
      }
      for (var j = 0u; j < TC; j++) {
        b[j] = f32(tileB[bBase + k * BC + j]);
      }
      for (var i = 0u; i < TP; i++) {
        for (var j = 0u; j < TC; j++) {
          acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
      }
    }
    if (s + 1u < steps) {
      commit(buf ^ 1u);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TP; i++) {
    for (var j = 0u; j < TC; j++) {
      emit(p, tp * TP + i, tc * TC + j, acc[i][j]);
    }
  }
}
