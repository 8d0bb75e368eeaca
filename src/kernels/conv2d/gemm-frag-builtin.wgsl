// Subgroup-matrix fragments on the hardware (chromium_experimental_subgroup_matrix: NVIDIA tensor
// cores through VK_KHR_cooperative_matrix). Same semantics as gemm-frag-emulated.wgsl, which is what
// CI tests; only this mapping onto the builtins needs a GPU that has them.

alias FragAcc = subgroup_matrix_result<f32, FRAG_N, FRAG_M>;
alias FragLeft = subgroup_matrix_left<CT, FRAG_K, FRAG_M>;
alias FragRight = subgroup_matrix_right<CT, FRAG_N, FRAG_K>;

fn fragInit(lane: u32) {}

fn fragZero() -> FragAcc {
  return FragAcc();
}

fn fragLoadLeft(at: u32) -> FragLeft {
  return subgroupMatrixLoad<FragLeft, col_major>(&tileA, at, A_STRIDE);
}

fn fragLoadRight(at: u32) -> FragRight {
  return subgroupMatrixLoad<FragRight, row_major>(&tileB, at, B_STRIDE);
}

fn fragMma(a: FragLeft, b: FragRight, c: FragAcc) -> FragAcc {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

fn fragStore(c: FragAcc, at: u32) {
  subgroupMatrixStore<row_major>(&tileC, at, c, C_STRIDE);
}

// The hardware need not number subgroups lid / SG, and only subgroup_id passes Dawn's uniformity check.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) g: u32, @builtin(subgroup_invocation_id) lane: u32) {
  gemmMatrix(wid, lid, g, lane);
}
