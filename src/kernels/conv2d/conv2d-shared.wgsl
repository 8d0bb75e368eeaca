// Convolution and transposed convolution as an implicit GEMM staged through workgroup memory (the
// fast shape on real GPUs). A 16 x 16 workgroup computes a 64-channel x 64-pixel output tile; each
// step gathers a 16-deep slice of K (input channel x tap) of the weights and of the im2col matrix
// into workgroup memory, then every invocation accumulates its 4 channels x 4 pixels from there.
//
// Indexing (phases for the transposed case, packed weight layout) is as in conv2d-register.wgsl.

override TRANSPOSED: bool = false;
override RESIDUAL: bool = false;

const KT = 16u;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> output: array<f32>;

// [k][16 vec4]: 64 output channels per K row, and 64 pixels per K row.
var<workgroup> tileW: array<vec4f, 256>;
var<workgroup> tileX: array<vec4f, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tile = wid.z * params.tilesX + wid.x;
  let phase = wid.y / params.mBlocks;
  let m4Base = (wid.y % params.mBlocks) * 16u;
  let k = params.kernel;
  let s = params.stride;
  let ry = phase / s;
  let rx = phase % s;

  // Invocation (x, y) gathers K row y of both tiles at column group x, and later owns output
  // channels 4 * (m4Base + y) .. +3 and pixels tile * 64 + 4x .. +3.
  var px: array<Pixel, 4>;
  for (var c = 0u; c < 4u; c++) {
    px[c] = locate(tile * 64u + lid.x * 4u + c, ry, rx);
  }

  let taps = phaseTaps(ry, rx);

  let hw = params.inH * params.inW;
  let chw = params.inC * hw;
  let kTotal = taps.countY * taps.countX * params.inC;
  let m4 = m4Base + lid.x;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < kTotal; k0 += KT) {
    let kk = k0 + lid.y;
    let inK = kk < kTotal;
    let tapLocal = kk / params.inC;
    let ci = kk % params.inC;
    let ty = tapLocal / taps.countX;
    let tx = tapLocal % taps.countX;
    let tap = tapIndex(taps, ty, tx);
    let wAt = select(0u, (tap * params.inC + ci) * params.mVec4 + m4, inK && m4 < params.mVec4);
    tileW[lid.y * 16u + lid.x] = select(vec4f(0.0), weight[wAt], inK && m4 < params.mVec4);

    var xv: vec4f;
    for (var c = 0u; c < 4u; c++) {
      let iy = px[c].iyBase + i32(ty) * taps.inputStep;
      let ix = px[c].ixBase + i32(tx) * taps.inputStep;
      let live = inK && px[c].valid && iy >= 0 && ix >= 0 && u32(iy) < params.inH && u32(ix) < params.inW;
      let at = select(0u, px[c].sample * chw + ci * hw + u32(iy) * params.inW + u32(ix), live);
      xv[c] = select(0.0, input[at], live);
    }
    tileX[lid.y * 16u + lid.x] = xv;
    workgroupBarrier();

    for (var r = 0u; r < KT; r++) {
      let w = tileW[r * 16u + lid.y];
      let x = tileX[r * 16u + lid.x];
      acc[0] = fma(vec4f(w.x), x, acc[0]);
      acc[1] = fma(vec4f(w.y), x, acc[1]);
      acc[2] = fma(vec4f(w.z), x, acc[2]);
      acc[3] = fma(vec4f(w.w), x, acc[3]);
    }
    workgroupBarrier();
  }

  let outHW = params.outH * params.outW;
  let mOut4 = m4Base + lid.y;
  let b = bias[min(mOut4, params.mVec4 - 1u)];
  for (var c = 0u; c < 4u; c++) {
    let m = mOut4 * 4u + c;
    for (var j = 0u; j < 4u; j++) {
      if (m < params.outC && px[j].valid) {
        let at = (px[j].sample * params.outC + m) * outHW + px[j].oy * params.outW + px[j].ox;
        var v = acc[c][j] + b[c];
        if (RESIDUAL) {
          v += residual[at];
        }
        output[at] = activate(v, params.slope);
      }
    }
  }
}
