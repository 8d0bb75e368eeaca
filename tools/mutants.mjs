// The bugs `npm run mutate` plants, one at a time: each replaces `from` (which must occur exactly
// once in `file`) with `to`, and names the tests that must then fail. Kernel bugs sit where a
// real GPU's path differs from lavapipe's (channel blocks past the first, split-K slices, fragment
// layouts, the vec4 loader's counters); the others are the classes a review once planted by hand.
// `env` narrows a slow test to the variant under test (see test/kernels/layer-shapes.test.ts).

const layerShapes = (variants) => ({ tests: ['kernels/layer-shapes'], env: { RCAE_LAYER_VARIANTS: variants } });

export const MUTANTS = [
  {
    id: 'hf: the channel mean skips the last channel',
    file: 'src/kernels/stats/hf.wgsl',
    from: 'for (var c = 0u; c < params.channels; c++) {',
    to: 'for (var c = 0u; c + 1u < params.channels; c++) {',
    tests: ['kernels/stats'],
    env: {},
  },
  {
    id: 'ssim: the partner column reuses the first column\'s window',
    file: 'src/kernels/stats/ssim.wgsl',
    from: 'var m1 = GAUSS[HALF] * px[HALF + 1u];',
    to: 'var m1 = GAUSS[HALF] * px[HALF];',
    tests: ['kernels/stats'],
    env: {},
  },
  {
    id: 'shared: channel block offset wraps after two blocks',
    file: 'src/kernels/conv2d/conv2d-shared.wgsl',
    from: 'let m4Base = (wid.y % params.mBlocks) * 16u;',
    to: 'let m4Base = ((wid.y % params.mBlocks) % 2u) * 16u;',
    ...layerShapes('shared/f32'),
  },
  {
    id: 'register: channel block offset wraps after two blocks',
    file: 'src/kernels/conv2d/conv2d-register.wgsl',
    from: 'let m4Base = (wid.y % params.mBlocks) * TM4;',
    to: 'let m4Base = ((wid.y % params.mBlocks) % 2u) * TM4;',
    ...layerShapes('register/f32'),
  },
  {
    id: 'subgroup: channel block offset wraps after two blocks',
    file: 'src/kernels/conv2d/conv2d-subgroup.wgsl',
    from: 'let mBase = (wid.y % params.mBlocks) * TM8 * 8u;',
    to: 'let mBase = ((wid.y % params.mBlocks) % 2u) * TM8 * 8u;',
    ...layerShapes('subgroup/f32'),
  },
  {
    id: 'GEMM tiles: channel block offset wraps after two blocks',
    file: 'src/kernels/conv2d/gemm-tiles.wgsl',
    from: 'p.cBase = (block % params.mBlocks) * BC;',
    to: 'p.cBase = ((block % params.mBlocks) % 2u) * BC;',
    ...layerShapes('tile/f32'),
  },
  {
    id: 'GEMM tiles: B rows fetched from the slice start only',
    file: 'src/kernels/conv2d/gemm-tiles.wgsl',
    from: 'let live = q < BK * C4 && k0 + kOff < p.kEnd && c4 < params.mVec4;',
    to: 'let live = q < BK * C4 && k0 + kOff < p.kEnd && c4 < params.mVec4 && kOff < BK - 1u;',
    ...layerShapes('tile/f16'),
  },
  {
    id: 'split-K: the reduction drops slice 0',
    file: 'src/kernels/conv2d/conv2d-gemm-reduce.wgsl',
    from: 'for (var s = 0u; s < params.splitK; s++) {',
    to: 'for (var s = 1u; s < params.splitK; s++) {',
    tests: ['kernels/gemm'],
  },
  {
    id: 'GEMM epilogue: residual subtracted',
    file: 'src/kernels/conv2d/gemm-epilogue.wgsl',
    from: 'v += f32(residual[at]);',
    to: 'v -= f32(residual[at]);',
    tests: ['kernels/gemm'],
  },
  {
    id: 'vec4 loader: channel counter steps by 4, not by BK',
    file: 'src/kernels/conv2d/gemm-load-vec4.wgsl',
    from: 'channel += BK;',
    to: 'channel += 4u;',
    ...layerShapes('tile/f32'),
  },
  {
    id: 'emulated fragments: result column off by one',
    file: 'src/kernels/conv2d/gemm-frag-emulated.wgsl',
    from: 'let col = e % FRAG_N;',
    to: 'let col = (e + 1u) % FRAG_N;',
    ...layerShapes('matrix-emulated/f16'),
  },
  {
    id: 'matrix backend: every subgroup reads the first pixel fragment row',
    file: 'src/kernels/conv2d/conv2d-gemm-matrix.wgsl',
    from: 'let left = fragLoadLeft(buf * BK * BP + k * BP + (gp * FM + i) * FRAG_M);',
    to: 'let left = fragLoadLeft(buf * BK * BP + k * BP + i * FRAG_M);',
    ...layerShapes('matrix-emulated/f16'),
  },
  {
    id: 'transposed conv: phase input row from the wrong side',
    file: 'src/kernels/conv2d/conv2d-geometry.wgsl',
    from: 'p.iyBase = i32((p.oy + params.padding - ry) / s);',
    to: 'p.iyBase = i32((p.oy + params.padding + ry) / s);',
    tests: ['kernels/conv2d'],
  },
  {
    id: 'linear as 1x1 GEMM: outputs not renumbered to NHWC',
    file: 'src/graph/executor.ts',
    from: 'const so = outMap ? nchwIndexOfNhwc(o, outMap) : o;',
    to: 'const so = o;',
    tests: ['model/parity'],
  },
  {
    id: 'BatchNorm folding: epsilon dropped',
    file: 'src/graph/fold.ts',
    from: 'bn.runningVar[c] + eps',
    to: 'bn.runningVar[c]',
    tests: ['graph/executor'],
  },
  {
    id: 'thresholds: strict and balanced percentiles swapped',
    file: 'src/detect/thresholds.ts',
    from: '{ strict: 99, balanced: 95, sensitive: 95.5 }',
    to: '{ strict: 95, balanced: 99, sensitive: 95.5 }',
    tests: ['cli/detect'],
  },
  {
    id: 'resize: rounding instead of PIL truncation',
    file: 'src/image/resize.ts',
    from: 'return Math.floor(v / ONE);',
    to: 'return Math.round(v / ONE);',
    tests: ['image/resize'],
  },
  {
    id: 'npy: int64 read as unsigned',
    file: 'src/io/npy.ts',
    from: 'Number(view.getBigInt64(at, true))',
    to: 'Number(view.getBigUint64(at, true))',
    tests: ['io/npy'],
  },
  {
    id: 'fp16 decoding (checkpoints, .npy, f16 readback): exponent bias off by one',
    file: 'src/gpu/f16.ts',
    from: 'return sign * (1 + m / 1024) * 2 ** (e - 15);',
    to: 'return sign * (1 + m / 1024) * 2 ** (e - 14);',
    tests: ['weights/checkpoint', 'io/model-fixtures'],
  },
  {
    id: 'service: 1 KiB kept per request (a leak)',
    file: 'src/serve/server.ts',
    from: 'const remote = req.socket.remoteAddress;',
    to: 'const remote = ((globalThis.rcaeLeak ??= []).push(Buffer.alloc(1024)), req.socket.remoteAddress);',
    tests: ['serve/leak'],
  },
  {
    id: 'rcae score: 1 KiB kept per sample (a leak)',
    file: 'src/pipeline/inputs.ts',
    from: 'inputs.push(p.input);',
    to: 'inputs.push(p.input), (globalThis.rcaeLeak ??= []).push(Buffer.alloc(1024));',
    tests: ['pipeline/leak'],
  },
];
