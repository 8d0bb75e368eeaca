// The register-tiled implicit GEMM of conv2d-register.wgsl with one change that matters on
// CPU-emulated adapters: weight loads. There every lane of a subgroup wanted the same weights, yet
// a load inside a loop is emitted as a per-lane gather. Here lane l of each group of 8 lanes loads
// output channel (block + l) once, and subgroupBroadcast hands the 8 values to every lane, which
// is a register shuffle. Inputs stay one gather per pixel, as they differ per lane anyway.
//
// Needs subgroups of at least 8 invocations (the host checks the adapter). Each invocation
// accumulates TM8 groups of 8 output channels for TN output pixels; pixel j of invocation l is
// tile * WG * TN + j * WG + l. Indexing, phases and the packed layout are as in conv2d-register.wgsl.

override WG: u32 = 8u;
override TN: u32 = 8u;
override TM8: u32 = 2u;
override TRANSPOSED: bool = false;
override RESIDUAL: bool = false;

const MAX_TN = 8u;
const MAX_TM = 16u;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> output: array<f32>;

// The lane index of subgroupBroadcast must be a constant expression, hence the spelled-out list.
fn spread(v: f32) -> array<f32, 8> {
  return array<f32, 8>(
    subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
    subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let lane = sid % 8u;
  let tile = wid.z * params.tilesX + wid.x;
  let phase = wid.y / params.mBlocks;
  let mBase = (wid.y % params.mBlocks) * TM8 * 8u;
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
  let rowLength = params.mVec4 * 4u;
  var acc: array<array<f32, MAX_TN>, MAX_TM>;
  for (var ty = 0u; ty < taps.countY; ty++) {
    for (var tx = 0u; tx < taps.countX; tx++) {
      var offset: array<u32, MAX_TN>;
      var live: array<bool, MAX_TN>;
      for (var j = 0u; j < TN; j++) {
        let iy = px[j].iyBase + i32(ty) * taps.inputStep;
        let ix = px[j].ixBase + i32(tx) * taps.inputStep;
        live[j] = px[j].valid && iy >= 0 && ix >= 0 && u32(iy) < params.inH && u32(ix) < params.inW;
        offset[j] = select(0u, px[j].sample * chw + u32(iy) * params.inW + u32(ix), live[j]);
      }
      let tap = tapIndex(taps, ty, tx);
      var at = tap * params.inC * rowLength + mBase + lane;
      for (var ci = 0u; ci < params.inC; ci++) {
        var xv: array<f32, MAX_TN>;
        for (var j = 0u; j < TN; j++) {
          xv[j] = select(0.0, input[offset[j] + ci * hw], live[j]);
        }
        for (var g = 0u; g < TM8; g++) {
          let w = spread(weight[at + g * 8u]);
          for (var c = 0u; c < 8u; c++) {
            for (var j = 0u; j < TN; j++) {
              acc[g * 8u + c][j] = fma(w[c], xv[j], acc[g * 8u + c][j]);
            }
          }
        }
        at += rowLength;
      }
    }
  }

  let outHW = params.outH * params.outW;
  for (var c = 0u; c < TM8 * 8u; c++) {
    let m = mBase + c;
    let b = bias[m];
    for (var j = 0u; j < TN; j++) {
      if (m < params.outC && px[j].valid) {
        let at = (px[j].sample * params.outC + m) * outHW + px[j].oy * params.outW + px[j].ox;
        var v = acc[c][j] + b;
        if (RESIDUAL) {
          v += residual[at];
        }
        output[at] = activate(v, params.slope);
      }
    }
  }
}
