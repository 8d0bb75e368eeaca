// Output-pixel geometry shared by every convolution variant: which sample, output row and column a
// GEMM column index stands for, and which input row and column its first kernel tap reads, for
// forward convolution and for one stride phase of a transposed convolution. Expects the including
// shader to declare `params: ConvParams` and `override TRANSPOSED: bool`.

struct Pixel {
  sample: u32,
  oy: u32,
  ox: u32,
  // Input row/column reached by tap 0; tap t reaches base + t * tapStep.
  iyBase: i32,
  ixBase: i32,
  valid: bool,
}

// First output row of a phase: the smallest oy >= 0 with (oy + padding) mod stride == r.
fn phaseStart(r: u32) -> u32 {
  return (r + params.padding * (params.stride - 1u)) % params.stride;
}

fn locate(n: u32, ry: u32, rx: u32) -> Pixel {
  var p: Pixel;
  let x = n % params.phaseW;
  let rest = n / params.phaseW;
  let y = rest % params.phaseH;
  p.sample = rest / params.phaseH;
  let s = params.stride;
  if (TRANSPOSED) {
    p.oy = phaseStart(ry) + y * s;
    p.ox = phaseStart(rx) + x * s;
    // (o + padding - r) is a multiple of the stride by construction of the phase.
    p.iyBase = i32((p.oy + params.padding - ry) / s);
    p.ixBase = i32((p.ox + params.padding - rx) / s);
  } else {
    p.oy = y;
    p.ox = x;
    p.iyBase = i32(y * s) - i32(params.padding);
    p.ixBase = i32(x * s) - i32(params.padding);
  }
  p.valid = p.sample < params.batch && p.oy < params.outH && p.ox < params.outW;
  return p;
}

// The kernel taps one output phase reads. Forward convolution: all k x k taps, the input position
// advancing with the tap. Transposed convolution, phase (ry, rx): only the taps congruent to the
// phase modulo the stride, with the input position moving back one pixel per tap taken.
struct Taps {
  countY: u32,
  countX: u32,
  khFirst: u32,
  kwFirst: u32,
  stride: u32,
  inputStep: i32,
}

fn phaseTaps(ry: u32, rx: u32) -> Taps {
  let k = params.kernel;
  let s = params.stride;
  if (TRANSPOSED) {
    return Taps((k + s - 1u - ry) / s, (k + s - 1u - rx) / s, ry, rx, s, -1);
  }
  return Taps(k, k, 0u, 0u, 1u, 1);
}

// Index of tap (ty, tx) of `taps` in the packed weights' [kh * kernel + kw] order.
fn tapIndex(taps: Taps, ty: u32, tx: u32) -> u32 {
  return (taps.khFirst + ty * taps.stride) * params.kernel + taps.kwFirst + tx * taps.stride;
}
