// Convolution and transposed convolution as an implicit GEMM with register tiles and no workgroup
// memory or barriers (the fast shape on CPU-emulated adapters, where a barrier costs a coroutine
// switch per invocation). M = output channels, N = output pixels, K = input channels x taps.
//
// Each invocation accumulates TM4 groups of 4 output channels for TN output pixels. Pixels are
// spread across the lanes (pixel j of invocation l is tile * WG * TN + j * WG + l) and the
// output-channel block comes from the workgroup id, so every weight load has the same address in
// all lanes and compiles to a scalar load plus broadcast; only the input gathers differ per lane.
//
// Transposed convolution uses the stride-phase decomposition: outputs are split by
// ((oy + padding) mod stride, (ox + padding) mod stride); within one phase only the kernel taps
// congruent to that phase contribute, and they do so as a dense convolution over the input, so no
// multiply is spent on the zeros a naive scatter or zero-insertion would touch.
//
// Weights are packed [tap = kh * kernel + kw][input channel][output channel / 4] (vec4 rows of
// mVec4, padded so that every TM4 block reads inside the row); biases as vec4 [mVec4].

override WG: u32 = 64u;
override TN: u32 = 4u;
override TM4: u32 = 2u;
override TRANSPOSED: bool = false;
override RESIDUAL: bool = false;

const MAX_TN = 8u;
const MAX_TM4 = 4u;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.z * params.tilesX + wid.x;
  let phase = wid.y / params.mBlocks;
  let m4Base = (wid.y % params.mBlocks) * TM4;
  let s = params.stride;
  let ry = phase / s;
  let rx = phase % s;

  var px: array<Pixel, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    px[j] = locate((tile * TN + j) * WG + lid, ry, rx);
  }

  let taps = phaseTaps(ry, rx);

  let hw = params.inH * params.inW;
  let chw = params.inC * hw;
  var acc: array<array<vec4f, MAX_TN>, MAX_TM4>;
  for (var ty = 0u; ty < taps.countY; ty++) {
    for (var tx = 0u; tx < taps.countX; tx++) {
      var offset: array<u32, MAX_TN>;
      var live: array<bool, MAX_TN>;
      for (var j = 0u; j < TN; j++) {
        let iy = px[j].iyBase + i32(ty) * taps.inputStep;
        let ix = px[j].ixBase + i32(tx) * taps.inputStep;
        live[j] = px[j].valid && iy >= 0 && ix >= 0 && u32(iy) < params.inH && u32(ix) < params.inW;
        // Dead pixels read element 0 (always in bounds) and have the value masked to zero, so the
        // loop below has no divergent control flow and weight loads stay uniform.
        offset[j] = select(0u, px[j].sample * chw + u32(iy) * params.inW + u32(ix), live[j]);
      }
      let tap = tapIndex(taps, ty, tx);
      var row = tap * params.inC * params.mVec4 + m4Base;
      for (var ci = 0u; ci < params.inC; ci++) {
        var xv: array<f32, MAX_TN>;
        for (var j = 0u; j < TN; j++) {
          xv[j] = select(0.0, input[offset[j] + ci * hw], live[j]);
        }
        for (var t = 0u; t < TM4; t++) {
          let wv = weight[row + t];
          for (var j = 0u; j < TN; j++) {
            acc[t][j] = fma(wv, vec4f(xv[j]), acc[t][j]);
          }
        }
        row += params.mVec4;
      }
    }
  }

  let outHW = params.outH * params.outW;
  for (var t = 0u; t < TM4; t++) {
    let b = bias[m4Base + t];
    for (var c = 0u; c < 4u; c++) {
      let m = (m4Base + t) * 4u + c;
      for (var j = 0u; j < TN; j++) {
        if (m < params.outC && px[j].valid) {
          let at = (px[j].sample * params.outC + m) * outHW + px[j].oy * params.outW + px[j].ox;
          var v = acc[t][j][c] + b[c];
          if (RESIDUAL) {
            v += residual[at];
          }
          output[at] = activate(v, params.slope);
        }
      }
    }
  }
}
