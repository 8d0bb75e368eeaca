// Float64 CPU references for conv2d / conv_transpose2d in PyTorch semantics (NCHW, PyTorch weight
// layouts, no output_padding), with the kernel's epilogue: + bias, + residual, activation.
import { activateReference } from '../reference.js';
import { convOutputSize, type ConvSpec } from './conv-spec.js';

type Numbers = ArrayLike<number>;

function epilogue(acc: Float64Array, spec: ConvSpec, residual: Numbers | undefined): Float64Array {
  if (residual && residual.length !== acc.length) throw new RangeError(`residual has ${residual.length} values, expected ${acc.length}`);
  for (let i = 0; i < acc.length; i++) acc[i] = activateReference(acc[i] + (residual ? residual[i] : 0), spec.activation, spec.leakySlope);
  return acc;
}

export function conv2dReference(x: Numbers, [n, c, h, w]: readonly number[], weight: Numbers, bias: Numbers, spec: ConvSpec, residual?: Numbers): Float64Array {
  const { outChannels: m, kernel: k, stride: s, padding: p } = spec;
  if (c !== spec.inChannels) throw new RangeError(`input has ${c} channels, spec expects ${spec.inChannels}`);
  const [oh, ow] = convOutputSize(spec, h, w);
  const out = new Float64Array(n * m * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < m; co++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let sum = bias[co];
          for (let ci = 0; ci < c; ci++) {
            for (let kh = 0; kh < k; kh++) {
              const iy = oy * s - p + kh;
              if (iy < 0 || iy >= h) continue;
              for (let kw = 0; kw < k; kw++) {
                const ix = ox * s - p + kw;
                if (ix < 0 || ix >= w) continue;
                sum += x[((b * c + ci) * h + iy) * w + ix] * weight[((co * c + ci) * k + kh) * k + kw];
              }
            }
          }
          out[((b * m + co) * oh + oy) * ow + ox] = sum;
        }
      }
    }
  }
  return epilogue(out, spec, residual);
}

/** Scatter form (each input pixel adds k x k taps), independent of the phase decomposition the kernels use. */
export function convTranspose2dReference(x: Numbers, [n, c, h, w]: readonly number[], weight: Numbers, bias: Numbers, spec: ConvSpec, residual?: Numbers): Float64Array {
  const { outChannels: m, kernel: k, stride: s, padding: p } = spec;
  if (c !== spec.inChannels) throw new RangeError(`input has ${c} channels, spec expects ${spec.inChannels}`);
  const [oh, ow] = convOutputSize(spec, h, w);
  const out = new Float64Array(n * m * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < m; co++) out.fill(bias[co], (b * m + co) * oh * ow, (b * m + co + 1) * oh * ow);
    for (let ci = 0; ci < c; ci++) {
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < w; ix++) {
          const v = x[((b * c + ci) * h + iy) * w + ix];
          for (let co = 0; co < m; co++) {
            for (let kh = 0; kh < k; kh++) {
              const oy = iy * s - p + kh;
              if (oy < 0 || oy >= oh) continue;
              for (let kw = 0; kw < k; kw++) {
                const ox = ix * s - p + kw;
                if (ox < 0 || ox >= ow) continue;
                out[((b * m + co) * oh + oy) * ow + ox] += v * weight[((ci * m + co) * k + kh) * k + kw];
              }
            }
          }
        }
      }
    }
  }
  return epilogue(out, spec, residual);
}
