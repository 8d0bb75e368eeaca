// A and B rows for the GEMM kernels in general: any channel count, NHWC or (IN_NCHW) NCHW input,
// scalar loads, every k decoded into (tap, channel) on its own. It serves the layers the vec4 path
// cannot: the RGB input layer (K = 16 taps x 3 channels) and odd test shapes.

var<private> taps: Taps;

fn loadSetup(p: Place) {
  taps = phaseTaps(p.ry, p.rx);
}

fn sliceStart(p: Place, k0: u32) {}

fn inputAt(px: Pixel, k: u32, kEnd: u32) -> TT {
  let tap = k / params.inC;
  let ci = k % params.inC;
  let iy = px.iyBase + i32(tap / taps.countX) * taps.inputStep;
  let ix = px.ixBase + i32(tap % taps.countX) * taps.inputStep;
  let live = k < kEnd && px.valid && iy >= 0 && ix >= 0 && u32(iy) < params.inH && u32(ix) < params.inW;
  var at: u32;
  if (IN_NCHW) {
    at = ((px.sample * params.inC + ci) * params.inH + u32(iy)) * params.inW + u32(ix);
  } else {
    at = ((px.sample * params.inH + u32(iy)) * params.inW + u32(ix)) * params.inC + ci;
  }
  return select(TT(), TT(input[select(0u, at, live)]), live);
}

fn loadA(px: Pixel, k0: u32, kOff: u32, kEnd: u32) -> vec4<TT> {
  let k = k0 + kOff;
  return vec4<TT>(inputAt(px, k, kEnd), inputAt(px, k + 1u, kEnd), inputAt(px, k + 2u, kEnd), inputAt(px, k + 3u, kEnd));
}

fn weightRow(k0: u32, kOff: u32) -> u32 {
  let k = k0 + kOff;
  let tap = k / params.inC;
  return tapIndex(taps, tap / taps.countX, tap % taps.countX) * params.inC + k % params.inC;
}
