// Peer: TensorFlow.js with its WebGPU backend on Dawn's Node binding. The model is built from the
// canonical weights with the ops a tfjs user would reach for: fused conv2d (bias + activation in
// one kernel), conv2dTranspose, fused matMul. tfjs convolutions are NHWC: the input is transposed
// once on the GPU, the bottleneck is flattened in NCHW order as PyTorch does, and the
// reconstruction is transposed back to NCHW before readback.
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Activation } from '../../src/graph/architecture.js';
import { installDawnNavigator } from './dawn.js';
import { type FoldedLayer, foldModel, isFlatValue } from './folding.js';
import { PeerUnavailableError } from './protocol.js';
import { type PeerSession, type PeerSource, importPeerPackage } from './session.js';
import { readCanonicalParams } from './weights.js';

type Tf = typeof TfCore;
type Tensor = TfCore.Tensor;
type Tensor4D = TfCore.Tensor4D;

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
// PyTorch's conv [out, in, kh, kw] and transposed conv [in, out, kh, kw] both become tfjs's
// [kh, kw, in, out] and [kh, kw, out, in] by the same permutation.
const TORCH_TO_TFJS_FILTER = [2, 3, 1, 0];

type FusedActivation = 'linear' | 'relu' | 'leakyrelu';

// tfjs-backend-webgpu's MatMulProgramType values (webgpu_util.ts; the enum is not exported).
const MATMUL_AUTO = -1;
const MATMUL_REDUCE = 0;
const MATMUL_SPLIT_K = 1;
const MATMUL_PACKED = 3;

/**
 * tfjs picks its split-K matmul for fc_encode (few rows, K = 8192 at full width). On lavapipe that
 * program returns wrong sums (errors of 4 on values of 3), so it is checked once against the
 * straightforward reduce program; where it is wrong the peer uses tfjs's packed matmul instead,
 * and says so in its backend line. The two Linears are 0.25% of the model's FLOPs.
 */
async function splitKMatMulIsSound(tf: Tf): Promise<boolean> {
  const [rows, k, cols] = [2, 4096, 256];
  const a = tf.tensor2d(Float32Array.from({ length: rows * k }, (_, i) => Math.sin(i * 0.37)), [rows, k]);
  const b = tf.tensor2d(Float32Array.from({ length: cols * k }, (_, i) => Math.cos(i * 0.11) / 64), [cols, k]);
  const product = async (type: number) => {
    tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', type);
    const c = tf.matMul(a, b, false, true);
    const data = await c.data();
    c.dispose();
    return data;
  };
  try {
    const [splitK, reduce] = [await product(MATMUL_SPLIT_K), await product(MATMUL_REDUCE)];
    return splitK.every((v, i) => Math.abs(v - reduce[i]) <= 1e-3 * (1 + Math.abs(reduce[i])));
  } finally {
    tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', MATMUL_AUTO);
    tf.dispose([a, b]);
  }
}

interface TfLayer {
  layer: FoldedLayer;
  weight: Tensor;
  bias: Tensor;
}

function fusable(activation: Activation): FusedActivation | null {
  if (activation === 'none') return 'linear';
  if (activation === 'relu') return 'relu';
  if (activation === 'leaky_relu') return 'leakyrelu';
  return null;
}

export async function openTfjsWebGpu(source: PeerSource): Promise<PeerSession> {
  const adapter = await installDawnNavigator();
  const core = await importPeerPackage<Tf & { default?: Tf }>('@tensorflow/tfjs-core');
  const tf = core.default ?? core;
  await importPeerPackage('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new PeerUnavailableError('tfjs could not initialise its webgpu backend');
  await tf.ready();
  const splitKSound = await splitKMatMulIsSound(tf);
  if (!splitKSound) tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', MATMUL_PACKED);

  const { arch } = source;
  const model = foldModel(arch, await readCanonicalParams(source.weightsPath, arch), source.weightsPath);
  const { plan } = model;
  const slope = arch.leakySlope;
  const layers: TfLayer[] = model.layers.map((layer) => {
    const [weight, bias] = tf.tidy(() => {
      const b = tf.tensor1d(layer.bias);
      if (!('weightShape' in layer)) return [tf.tensor2d(layer.weight, [layer.node.outFeatures, layer.node.inFeatures]), b];
      return [tf.transpose(tf.tensor4d(layer.weight, layer.weightShape), TORCH_TO_TFJS_FILTER), b];
    });
    return { layer, weight, bias };
  });

  const activate = (x: Tensor, activation: Activation): Tensor => {
    switch (activation) {
      case 'none':
        return x;
      case 'relu':
        return tf.relu(x);
      case 'leaky_relu':
        return tf.leakyRelu(x, slope);
      case 'tanh':
        return tf.tanh(x);
    }
  };

  const forward = (images: Tensor4D, batch: number): Tensor => {
    const values = new Map<number, Tensor>([[plan.io.image, tf.transpose(images, NCHW_TO_NHWC)]]);
    for (const { layer, weight, bias } of layers) {
      const n = layer.node;
      let x = values.get(n.input)!;
      let y: Tensor;
      if (n.kind === 'linear') {
        if (!isFlatValue(model, n.input)) x = tf.reshape(tf.transpose(x, NHWC_TO_NCHW), [batch, n.inFeatures]);
        const act = fusable(n.activation);
        y = tf.fused.matMul({ a: x as TfCore.Tensor2D, b: weight as TfCore.Tensor2D, transposeB: true, bias, activation: act ?? 'linear', leakyreluAlpha: slope });
        if (!act) y = activate(y, n.activation);
      } else {
        const [c, h, w] = plan.values[n.input].shape;
        if (isFlatValue(model, n.input)) x = tf.transpose(tf.reshape(x, [batch, c, h, w]), NCHW_TO_NHWC);
        const [oc, oh, ow] = plan.values[n.output].shape;
        const residual = n.residual === undefined ? undefined : values.get(n.residual)!;
        if (n.transposed) {
          y = tf.add(tf.conv2dTranspose(x as Tensor4D, weight as Tensor4D, [batch, oh, ow, oc], n.stride, n.padding), bias);
          if (residual) y = tf.add(y, residual);
          y = activate(y, n.activation);
        } else {
          const act = residual ? null : fusable(n.activation);
          const p = n.padding;
          y = tf.fused.conv2d({
            x: x as Tensor4D,
            filter: weight as Tensor4D,
            strides: n.stride,
            pad: [[0, 0], [p, p], [p, p], [0, 0]],
            bias,
            activation: act ?? 'linear',
            leakyreluAlpha: slope,
          });
          if (residual) y = tf.add(y, residual);
          if (!act) y = activate(y, n.activation);
        }
      }
      values.set(n.output, y);
    }
    return tf.transpose(values.get(plan.io.reconstruction)!, NHWC_TO_NCHW);
  };

  return {
    backend: `tfjs ${tf.version_core} webgpu backend on ${adapter}${splitKSound ? '' : ' (split-K matmul is wrong on this adapter: packed matmul used)'}`,
    async run(input, batch) {
      const out = tf.tidy(() => forward(tf.tensor4d(input, [batch, arch.inChannels, arch.imageSize, arch.imageSize]), batch));
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
    async dispose() {
      for (const l of layers) tf.dispose([l.weight, l.bias]);
      tf.engine().reset();
    },
  };
}
