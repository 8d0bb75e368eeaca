// Subgroup-matrix fragments emulated in plain WGSL, with the semantics of gemm-frag-builtin.wgsl:
// a left fragment is FRAG_M x FRAG_K of tileA read column-major (stride A_STRIDE), a right fragment
// FRAG_K x FRAG_N of tileB row-major (stride B_STRIDE), a result FRAG_M x FRAG_N in f32 stored
// row-major (stride C_STRIDE): the tensor cores' layout, in f32 elements (TT) instead of f16. The
// SG invocations of a (virtual) subgroup share a result: invocation l holds elements l, l + SG, ...
// Loads only record where the operand lies, since nothing writes the tiles between a load and its
// use; multiply-accumulate reads the operands from workgroup memory.
// Its k loop runs to params.fragK (= FRAG_K) rather than the constant: a software rasteriser
// unrolls constant loops, and fully unrolled fragments took minutes to compile on lavapipe.

const EPL = FRAG_M * FRAG_N / SG;

alias FragAcc = array<f32, EPL>;
struct FragLeft { at: u32 }
struct FragRight { at: u32 }

var<private> fragLane: u32;

fn fragInit(lane: u32) {
  fragLane = lane;
}

fn fragZero() -> FragAcc {
  return FragAcc();
}

fn fragLoadLeft(at: u32) -> FragLeft {
  return FragLeft(at);
}

fn fragLoadRight(at: u32) -> FragRight {
  return FragRight(at);
}

fn fragMma(a: FragLeft, b: FragRight, c: FragAcc) -> FragAcc {
  var r = c;
  for (var t = 0u; t < EPL; t++) {
    let e = fragLane + t * SG;
    let row = e / FRAG_N;
    let col = e % FRAG_N;
    var sum = r[t];
    for (var k = 0u; k < params.fragK; k++) {
      sum = fma(f32(tileA[a.at + k * A_STRIDE + row]), f32(tileB[b.at + k * B_STRIDE + col]), sum);
    }
    r[t] = sum;
  }
  return r;
}

fn fragStore(c: FragAcc, at: u32) {
  for (var t = 0u; t < EPL; t++) {
    let e = fragLane + t * SG;
    tileC[at + (e / FRAG_N) * C_STRIDE + e % FRAG_N] = c[t];
  }
}

// Virtual subgroups: consecutive runs of SG invocations.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  gemmMatrix(wid, lid, lid / SG, lid % SG);
}
