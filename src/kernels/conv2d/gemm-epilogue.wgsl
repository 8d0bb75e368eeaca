// The convolution epilogue of the GEMM kernels, shared by the kernel itself and by the split-K
// reduction: + bias (folded BatchNorm), + residual, activation, stored in the output's layout and
// element type. Expects bindings `bias: array<f32>`, `residual: array<OutT>`,
// `output: array<OutStore>`, and the constant OUT_NCHW. The activation and whether a residual is
// added are uniforms, not overrides: one pipeline serves every layer of a tile shape.

fn outIndex(sample: u32, oy: u32, ox: u32, m: u32) -> u32 {
  if (OUT_NCHW) {
    return ((sample * params.outC + m) * params.outH + oy) * params.outW + ox;
  }
  return ((sample * params.outH + oy) * params.outW + ox) * params.outC + m;
}

fn finish(sample: u32, oy: u32, ox: u32, m: u32, acc: f32) {
  let at = outIndex(sample, oy, ox, m);
  var v = acc + bias[m];
  if (params.residual != 0u) {
    v += f32(residual[at]);
  }
  output[at] = OutStore(activateWith(params.activation, v, params.slope));
}
