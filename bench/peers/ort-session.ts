// The part of the two onnxruntime peers that does not depend on where the model runs: feeding a
// batch of images and taking the reconstruction back, both with the names the ONNX writer uses.
import type * as OrtNode from 'onnxruntime-node';
import { ONNX_INPUT, ONNX_OUTPUT } from './onnx-writer.js';
import type { PeerSession, PeerSource } from './session.js';

/** The API both onnxruntime-node and onnxruntime-web share (onnxruntime-common's). */
export type Ort = Pick<typeof OrtNode, 'InferenceSession' | 'Tensor' | 'env'>;
type Session = OrtNode.InferenceSession;

export function ortPeerSession(ort: Ort, session: Session, source: PeerSource, backend: string): PeerSession {
  const { inChannels: c, imageSize: s } = source.arch;
  return {
    backend,
    async run(input, batch) {
      const image = new ort.Tensor('float32', input, [batch, c, s, s]);
      const outputs = await session.run({ [ONNX_INPUT]: image });
      const recon = outputs[ONNX_OUTPUT];
      if (!recon) throw new Error(`${source.onnxPath}: the model has no output named ${ONNX_OUTPUT}`);
      const data = recon.data;
      if (!(data instanceof Float32Array) || data.length !== input.length) throw new Error(`${source.onnxPath}: output ${ONNX_OUTPUT} is not ${input.length} float32 values`);
      return data;
    },
    async dispose() {
      await session.release();
    },
  };
}
