// The GEMM convolution (gemm-tiles.wgsl) on subgroup-matrix fragments: the workgroup's SG-wide
// subgroups form an SGP x SGC grid, and each owns FM x FN fragments of FRAG_M pixels x FRAG_N
// channels, multiplied FRAG_K deep from workgroup memory through the fragment primitives of
// gemm-frag-builtin.wgsl (tensor cores) or gemm-frag-emulated.wgsl (the same semantics in plain
// WGSL, so that this tiling runs and is tested anywhere). Results leave a fragment through a
// per-subgroup patch of workgroup memory, from which the subgroup's invocations apply the epilogue.
// The fragment file declares the entry point, because it alone knows how invocations form subgroups:
// on the hardware their subgroup and lane come from builtins (Dawn accepts only subgroup_id as a
// subgroup-uniform fragment offset), in the emulation from the invocation index.
// WG = SGP * SGC * SG; BP = SGP * FM * FRAG_M; BC = SGC * FN * FRAG_N.

override TRANSPOSED: bool = false;

var<workgroup> tileC: array<f32, SGP * SGC * FRAG_M * FRAG_N>;

// `g`: this invocation's subgroup; `lane`: its index there.
fn gemmMatrix(wid: vec3u, lid: u32, g: u32, lane: u32) {
  let p = place(wid);
  let steps = stepCount(p);
  setup(p, lid);
  fragInit(lane);
  let gp = g / SGC;
  let gc = g % SGC;
  var acc: array<array<FragAcc, FN>, FM>;
  for (var i = 0u; i < FM; i++) {
    for (var j = 0u; j < FN; j++) {
      acc[i][j] = fragZero();
    }
  }
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
    for (var k = 0u; k < BK; k += FRAG_K) {
      var right: array<FragRight, FN>;
      for (var j = 0u; j < FN; j++) {
        right[j] = fragLoadRight(buf * BK * BC + k * BC + (gc * FN + j) * FRAG_N);
      }
      for (var i = 0u; i < FM; i++) {
        let left = fragLoadLeft(buf * BK * BP + k * BP + (gp * FM + i) * FRAG_M);
        for (var j = 0u; j < FN; j++) {
          acc[i][j] = fragMma(left, right[j], acc[i][j]);
        }
      }
    }
    if (s + 1u < steps) {
      commit(buf ^ 1u);
    }
    workgroupBarrier();
  }
  let own = g * FRAG_M * FRAG_N;
  for (var i = 0u; i < FM; i++) {
    for (var j = 0u; j < FN; j++) {
      fragStore(acc[i][j], own);
      workgroupBarrier();
      for (var e = lane; e < FRAG_M * FRAG_N; e += SG) {
        emit(p, (gp * FM + i) * FRAG_M + e / FRAG_N, (gc * FN + j) * FRAG_N + e % FRAG_N, tileC[own + e]);
      }
      workgroupBarrier();
    }
  }
}
