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
//
// Tiles of TT (f16 for the tensor cores: subgroupMatrixLoad reads an array of the fragment's own
// component type, so commits are 16-bit stores; f32 in the emulation), k-major with padded rows:
// tileA [2][BK][A_STRIDE] (pixels along a row; left fragments load column-major), tileB
// [2][BK][B_STRIDE] (channels along a row; right fragments row-major). Result patches are
// FRAG_M rows of C_STRIDE floats. Strides and runs: gemm-layout.ts, checked by bench/banks.ts.

override TRANSPOSED: bool = false;

var<workgroup> tileA: array<TT, 2u * BK * A_STRIDE>;
var<workgroup> tileB: array<TT, 2u * BK * B_STRIDE>;
var<workgroup> tileC: array<f32, SGP * SGC * FRAG_M * C_STRIDE>;

// A quad of A is 4 k of one pixel, transposed into 4 rows; runs of 2 quads of 16 pixels put the
// 32 halves of one store in 16 words, on 16 distinct banks. A quad of B is 4 channels of one k:
// runs of 4 quads over 8 rows cover every bank twice, and every other pair of quads writes its
// halves in the order z w x y, so that each of the 4 stores hits all 32 banks once.
fn commit(buf: u32) {
  for (var i = 0u; i < A_QUADS; i++) {
    let at = quadOfA(i);
    if (at.z == 0u) {
      break;
    }
    let base = (buf * BK + 4u * at.y) * A_STRIDE + at.x;
    let v = fetchedA[i];
    for (var j = 0u; j < 4u; j++) {
      tileA[base + j * A_STRIDE] = v[j];
    }
  }
  for (var i = 0u; i < B_QUADS; i++) {
    let at = quadOfB(i);
    if (at.z == 0u) {
      break;
    }
    let base = (buf * BK + at.x) * B_STRIDE + 4u * at.y;
    let v = vec4<TT>(fetchedB[i]);
    let swap = at.y & 2u;
    for (var j = 0u; j < 4u; j++) {
      tileB[base + (j ^ swap)] = v[j ^ swap];
    }
  }
}

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
        right[j] = fragLoadRight((buf * BK + k) * B_STRIDE + (gc * FN + j) * FRAG_N);
      }
      for (var i = 0u; i < FM; i++) {
        let left = fragLoadLeft((buf * BK + k) * A_STRIDE + (gp * FM + i) * FRAG_M);
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
  let own = g * FRAG_M * C_STRIDE;
  for (var i = 0u; i < FM; i++) {
    for (var j = 0u; j < FN; j++) {
      fragStore(acc[i][j], own);
      workgroupBarrier();
      for (var e = lane; e < FRAG_M * FRAG_N; e += SG) {
        emit(p, (gp * FM + i) * FRAG_M + e / FRAG_N, (gc * FN + j) * FRAG_N + e % FRAG_N, tileC[own + (e / FRAG_N) * C_STRIDE + e % FRAG_N]);
      }
      workgroupBarrier();
    }
  }
}
