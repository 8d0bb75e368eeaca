// Implicit-GEMM convolution staged through workgroup memory: the part every fragment backend
// (conv2d-gemm-fma.wgsl, conv2d-gemm-matrix.wgsl) shares. Per stride phase the convolution is
// C[pixels x channels] = A[pixels x K] * B[K x channels], K ordered tap-major then input channel:
// A is gathered from the input (im2col, never materialised; gemm-load-*.wgsl), B is the packed
// weights [tap][cin][cout padded to 16]. A workgroup owns a BP x BC tile of C and walks its K range
// (one slice of it under split-K) BK at a time: the next slice is fetched into registers while the
// current one is multiplied from workgroup memory, then committed to the other half of the double
// buffer, so one barrier per step suffices. Each kernel declares its own tiles and commits to them
// (`commit`), in the layout its inner product reads without bank conflicts (gemm-layout.ts).
// The generated prelude declares the element types (CT: weights; TT: the workgroup tiles, f16 only
// where tensor cores read them, else f32 so that the inner loops convert nothing; InElem: the input
// binding; OutT: the layer's output; OutStore: binding 5, OutT or f32 partial sums under split-K),
// the constants BP, BC, BK, WG, SPLIT (whether K is split: the slice count is a uniform),
// IN_NCHW, OUT_NCHW, and the layout: A_STRIDE, B_STRIDE (elements per k row of the A and B tiles,
// padding included), A_RUN, B_RUN (see quadAt); the entry point declares TRANSPOSED.

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> input: array<InElem>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<CT>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<OutT>;
@group(0) @binding(5) var<storage, read_write> output: array<OutStore>;

// Where each of the tile's pixel rows lands in the output: (sample, oy, ox, valid).
var<workgroup> rowPixel: array<vec4<u32>, BP>;

const K4 = BK / 4u;
const C4 = BC / 4u;
// Quads each invocation moves per step (the last round may be partial: narrow tiles).
const A_QUADS = (BP * K4 + WG - 1u) / WG;
const B_QUADS = (BK * C4 + WG - 1u) / WG;

// The workgroup's share of the GEMM; a function of the workgroup id only, hence uniform.
struct Place {
  tile: u32,
  slice: u32,
  ry: u32,
  rx: u32,
  cBase: u32,
  kBegin: u32,
  kEnd: u32,
}

fn place(wid: vec3u) -> Place {
  let slice = wid.y % params.splitK;
  let block = wid.y / params.splitK;
  let phase = block / params.mBlocks;
  let s = params.stride;
  var p: Place;
  p.tile = wid.z * params.tilesX + wid.x;
  p.slice = slice;
  p.ry = phase / s;
  p.rx = phase % s;
  p.cBase = (block % params.mBlocks) * BC;
  let taps = phaseTaps(p.ry, p.rx);
  let kTotal = taps.countY * taps.countX * params.inC;
  p.kBegin = min(slice * params.kSlice, kTotal);
  p.kEnd = min(p.kBegin + params.kSlice, kTotal);
  return p;
}

fn stepCount(p: Place) -> u32 {
  return (p.kEnd - p.kBegin + BK - 1u) / BK;
}

// Registers between a slice's fetch and its commit: A already in the tiles' type (f16 stays f16).
var<private> fetchedA: array<vec4<TT>, A_QUADS>;
var<private> fetchedB: array<vec4<CT>, B_QUADS>;
var<private> rowOfQuad: array<Pixel, A_QUADS>;
var<private> lane: u32;

// Quad q of an operand with `rows` rows (A: pixels; B: k) of quads (A: 4 k of a pixel; B: 4 channels
// of a k), as (row, quad): consecutive q take runs of `run` quads along a row, then the same run of
// the next row; all rows done, the next run. The runs are what spread a commit over the banks.
fn quadAt(q: u32, rows: u32, run: u32) -> vec2u {
  let r = q / run;
  return vec2u(r % rows, (r / rows) * run + q % run);
}

// This invocation's i-th quad of A (of B): (row, quad, 1), or z = 0 past the last quad (the last
// round of a narrow tile is partial).
fn quadOfA(i: u32) -> vec3u {
  let q = lane + i * WG;
  return vec3u(quadAt(q, BP, A_RUN), u32(q < BP * K4));
}

fn quadOfB(i: u32) -> vec3u {
  let q = lane + i * WG;
  return vec3u(quadAt(q, BK, B_RUN), u32(q < BK * C4));
}

fn setup(p: Place, lid: u32) {
  lane = lid;
  for (var i = 0u; i < A_QUADS; i++) {
    rowOfQuad[i] = locate(p.tile * BP + quadOfA(i).x, p.ry, p.rx);
  }
  for (var r = lid; r < BP; r += WG) {
    let px = locate(p.tile * BP + r, p.ry, p.rx);
    rowPixel[r] = vec4<u32>(px.sample, px.oy, px.ox, u32(px.valid));
  }
  loadSetup(p);
}

// Fetches slice `step` of this workgroup's K range into registers (zeros past the range's end).
fn fetch(p: Place, step: u32) {
  let k0 = p.kBegin + step * BK;
  sliceStart(p, k0);
  for (var i = 0u; i < A_QUADS; i++) {
    let kOff = 4u * quadOfA(i).y;
    fetchedA[i] = loadA(rowOfQuad[i], k0, kOff, p.kEnd);
  }
  for (var i = 0u; i < B_QUADS; i++) {
    let quad = quadOfB(i);
    let kOff = quad.x;
    let c4 = p.cBase / 4u + quad.y;
    let live = quad.z != 0u && k0 + kOff < p.kEnd && c4 < params.mVec4;
    let at = select(0u, weightRow(k0, kOff) * params.mVec4 + c4, live);
    fetchedB[i] = select(vec4<CT>(), weight[at], live);
  }
}

// One element of C: through the epilogue into the output, or under split-K as this slice's
// partial sum (gemm-epilogue.wgsl's reduction finishes it).
fn emit(p: Place, row: u32, col: u32, acc: f32) {
  let px = rowPixel[row];
  let m = p.cBase + col;
  if (px.w == 0u || m >= params.outC) {
    return;
  }
  if (!SPLIT) {
    finish(px.x, px.y, px.z, m, acc);
  } else {
    // Every slice writes its whole tile, an empty one (a phase with fewer taps) zeros.
    output[p.slice * params.outTotal + outIndex(px.x, px.y, px.z, m)] = OutStore(acc);
  }
}
