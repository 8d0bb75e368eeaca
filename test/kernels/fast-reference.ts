// The float64 convolution references of src/kernels/conv2d/reference.ts, reordered for speed (the
// output row is the innermost loop, so V8 keeps it in a tight typed-array loop): the full-width
// layer tests need ~5 G multiply-adds of reference. Same semantics, checked against the plain
// references in gemm.test.ts. Returns the raw sum (bias included, before residual and activation).
import { convOutputSize, type ConvSpec } from '../../src/kernels/conv2d/conv-spec.js';

type Numbers = ArrayLike<number>;

export function fastConvRaw(x: Numbers, [n, c, h, w]: readonly number[], weight: Numbers, bias: Numbers, spec: ConvSpec): Float64Array {
  const { outChannels: m, kernel: k, stride: s, padding: p } = spec;
  const [oh, ow] = convOutputSize(spec, h, w);
  const out = new Float64Array(n * m * oh * ow);
  const xs = Float64Array.from(x);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < m; co++) {
      const plane = (b * m + co) * oh * ow;
      out.fill(bias[co], plane, plane + oh * ow);
      for (let ci = 0; ci < c; ci++) {
        const inPlane = (b * c + ci) * h * w;
        for (let kh = 0; kh < k; kh++) {
          for (let kw = 0; kw < k; kw++) {
            const wv = spec.transposed ? weight[((ci * m + co) * k + kh) * k + kw] : weight[((co * c + ci) * k + kh) * k + kw];
            if (wv === 0) continue;
            if (!spec.transposed) {
              // out[oy][ox] += w * x[oy*s - p + kh][ox*s - p + kw]
              for (let oy = 0; oy < oh; oy++) {
                const iy = oy * s - p + kh;
                if (iy < 0 || iy >= h) continue;
                const row = inPlane + iy * w;
                const orow = plane + oy * ow;
                const oxFirst = Math.max(0, Math.ceil((p - kw) / s));
                const oxEnd = Math.min(ow, Math.floor((w - 1 + p - kw) / s) + 1);
                for (let ox = oxFirst, ix = oxFirst * s - p + kw; ox < oxEnd; ox++, ix += s) out[orow + ox] += wv * xs[row + ix];
              }
            } else {
              // out[iy*s - p + kh][ix*s - p + kw] += w * x[iy][ix]
              for (let iy = 0; iy < h; iy++) {
                const oy = iy * s - p + kh;
                if (oy < 0 || oy >= oh) continue;
                const row = inPlane + iy * w;
                const orow = plane + oy * ow;
                const ixFirst = Math.max(0, Math.ceil((p - kw) / s));
                const ixEnd = Math.min(w, Math.floor((ow - 1 + p - kw) / s) + 1);
                for (let ix = ixFirst, ox = ixFirst * s - p + kw; ix < ixEnd; ix++, ox += s) out[orow + ox] += wv * xs[row + ix];
              }
            }
          }
        }
      }
    }
  }
  return out;
}
