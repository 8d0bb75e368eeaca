// A and B rows for the GEMM kernels when every K slice lies inside one kernel tap: NHWC input with
// inC a multiple of BK (so of 4). A slice's four consecutive k are four consecutive input channels
// of one pixel, one vec4 load; the tap and channel of the slice advance by counters, so the loop
// has no division by the channel count.

var<private> taps: Taps;
var<private> tapY: u32;
var<private> tapX: u32;
var<private> channel: u32;
var<private> sliceK: u32;

fn loadSetup(p: Place) {
  taps = phaseTaps(p.ry, p.rx);
  // The one division: where the first slice starts.
  let tap = p.kBegin / params.inC;
  tapY = tap / taps.countX;
  tapX = tap % taps.countX;
  channel = p.kBegin % params.inC;
  sliceK = p.kBegin;
}

// Slices are visited in order, BK apart.
fn sliceStart(p: Place, k0: u32) {
  if (k0 == sliceK) {
    return;
  }
  sliceK = k0;
  channel += BK;
  if (channel == params.inC) {
    channel = 0u;
    tapX++;
    if (tapX == taps.countX) {
      tapX = 0u;
      tapY++;
    }
  }
}

fn loadA(px: Pixel, k0: u32, kOff: u32, kEnd: u32) -> vec4<TT> {
  let iy = px.iyBase + i32(tapY) * taps.inputStep;
  let ix = px.ixBase + i32(tapX) * taps.inputStep;
  let live = k0 + kOff < kEnd && px.valid && iy >= 0 && ix >= 0 && u32(iy) < params.inH && u32(ix) < params.inW;
  let at = select(0u, (((px.sample * params.inH + u32(iy)) * params.inW + u32(ix)) * params.inC + channel + kOff) / 4u, live);
  return select(vec4<TT>(), vec4<TT>(input[at]), live);
}

fn weightRow(k0: u32, kOff: u32) -> u32 {
  return tapIndex(taps, tapY, tapX) * params.inC + channel + kOff;
}
