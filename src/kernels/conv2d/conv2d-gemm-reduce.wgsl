// Split-K's second pass: sums the params.splitK partial results of the GEMM convolution (each a full
// output-sized f32 array, in the output's layout) and applies the epilogue (gemm-epilogue.wgsl).
// One invocation per output element.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<OutT>;
@group(0) @binding(4) var<storage, read_write> output: array<OutStore>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (e >= params.outTotal) {
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < params.splitK; s++) {
    sum += partial[s * params.outTotal + e];
  }
  var sample: u32;
  var oy: u32;
  var ox: u32;
  var m: u32;
  if (OUT_NCHW) {
    ox = e % params.outW;
    oy = (e / params.outW) % params.outH;
    m = (e / (params.outW * params.outH)) % params.outC;
    sample = e / (params.outW * params.outH * params.outC);
  } else {
    m = e % params.outC;
    ox = (e / params.outC) % params.outW;
    oy = (e / (params.outC * params.outW)) % params.outH;
    sample = e / (params.outC * params.outW * params.outH);
  }
  finish(sample, oy, ox, m, sum);
}
