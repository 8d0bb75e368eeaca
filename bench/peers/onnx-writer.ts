// Writes the model as an ONNX file (opset 17, dynamic batch) straight from TypeScript, so the ORT
// peers need no Python at bench time. BatchNorm is folded into the convs; the graph is
//   image -> [Conv|ConvTranspose -> (Add residual) -> act]* -> Flatten -> Gemm ... -> reconstruction
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ...).
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { Activation, Architecture } from '../../src/graph/architecture.js';
import { writeAtomically } from '../../src/node/atomic.js';
import { type FoldedModel, type Params, foldModel, isFlatValue } from './folding.js';
import { type Encoded, MessageWriter } from './protobuf.js';

export const ONNX_OPSET = 17;
const ONNX_IR_VERSION = 8; // the IR version that introduced opset 17
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'reconstruction';
const BATCH_DIM = 'batch';
const WRITE_BLOCK = 1 << 16;

const TENSOR_FLOAT = 1;
const TENSOR_INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attribute = { name: string } & ({ float: number } | { int: number } | { ints: number[] });

interface NodeDef {
  op: string;
  inputs: string[];
  output: string;
  attributes?: Attribute[];
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorProto(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): Encoded {
  const w = new MessageWriter();
  for (const d of dims) w.uint(1, d);
  return w.uint(2, data instanceof Float32Array ? TENSOR_FLOAT : TENSOR_INT64).string(8, name).bytes(9, bytesOf(data)).finish();
}

function attributeProto(a: Attribute): Encoded {
  const w = new MessageWriter().string(1, a.name);
  if ('float' in a) w.float(2, a.float).uint(20, ATTR_FLOAT);
  else if ('int' in a) w.uint(3, a.int).uint(20, ATTR_INT);
  else {
    for (const v of a.ints) w.uint(8, v);
    w.uint(20, ATTR_INTS);
  }
  return w.finish();
}

function nodeProto(n: NodeDef): Encoded {
  const w = new MessageWriter();
  for (const i of n.inputs) w.string(1, i);
  w.string(2, n.output).string(3, n.output).string(4, n.op);
  for (const a of n.attributes ?? []) w.message(5, attributeProto(a));
  return w.finish();
}

/** A float tensor value with a symbolic batch dimension first. */
function valueInfoProto(name: string, dims: readonly number[]): Encoded {
  const shape = new MessageWriter().message(1, new MessageWriter().string(2, BATCH_DIM).finish());
  for (const d of dims) shape.message(1, new MessageWriter().uint(1, d).finish());
  const tensorType = new MessageWriter().uint(1, TENSOR_FLOAT).message(2, shape.finish()).finish();
  return new MessageWriter().string(1, name).message(2, new MessageWriter().message(1, tensorType).finish()).finish();
}

/** Graph building: node list, initializers, and the activation/residual epilogue shared by every layer. */
class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  readonly initializers: Encoded[] = [];

  constructor(private readonly leakySlope: number) {}

  initializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    this.initializers.push(tensorProto(name, dims, data));
    return name;
  }

  node(op: string, inputs: string[], output: string, attributes?: Attribute[]): string {
    this.nodes.push({ op, inputs, output, attributes });
    return output;
  }

  activation(input: string, activation: Activation, output: string): string {
    switch (activation) {
      case 'none':
        return input;
      case 'relu':
        return this.node('Relu', [input], output);
      case 'leaky_relu':
        return this.node('LeakyRelu', [input], output, [{ name: 'alpha', float: this.leakySlope }]);
      case 'tanh':
        return this.node('Tanh', [input], output);
    }
  }
}

/** Value names are the planner's layer names, so ORT's profiles and errors read like rcae's. */
function buildGraph(model: FoldedModel): GraphBuilder {
  const { plan } = model;
  const g = new GraphBuilder(plan.arch.leakySlope);
  const names = new Map<number, string>([[plan.io.image, ONNX_INPUT]]);
  const finalName = (value: number, layerName: string) => (value === plan.io.reconstruction ? ONNX_OUTPUT : layerName);

  for (const layer of model.layers) {
    const n = layer.node;
    let x = names.get(n.input)!;
    const out = finalName(n.output, `${n.name}.out`);
    const hasEpilogue = n.activation !== 'none' || (n.kind === 'conv' && n.residual !== undefined);
    const raw = hasEpilogue ? `${n.name}.pre` : out;
    if (n.kind === 'linear') {
      if (!isFlatValue(model, n.input)) x = g.node('Flatten', [x], `${n.name}.flat`, [{ name: 'axis', int: 1 }]);
      const w = g.initializer(`${n.name}.weight`, [n.outFeatures, n.inFeatures], layer.weight);
      const b = g.initializer(`${n.name}.bias`, [n.outFeatures], layer.bias);
      g.node('Gemm', [x, w, b], raw, [{ name: 'transB', int: 1 }]);
    } else {
      if (isFlatValue(model, n.input)) {
        const [c, h, wd] = plan.values[n.input].shape;
        const shape = g.initializer(`${n.name}.unflatten_shape`, [4], BigInt64Array.from([-1n, BigInt(c), BigInt(h), BigInt(wd)]));
        x = g.node('Reshape', [x, shape], `${n.name}.unflat`);
      }
      if (!('weightShape' in layer)) throw new Error(`internal: conv layer ${n.name} has no weight shape`);
      const w = g.initializer(`${n.name}.weight`, layer.weightShape, layer.weight);
      const b = g.initializer(`${n.name}.bias`, [n.outChannels], layer.bias);
      g.node(n.transposed ? 'ConvTranspose' : 'Conv', [x, w, b], raw, [
        { name: 'kernel_shape', ints: [n.kernel, n.kernel] },
        { name: 'strides', ints: [n.stride, n.stride] },
        { name: 'pads', ints: [n.padding, n.padding, n.padding, n.padding] },
      ]);
    }
    let y = raw;
    if (n.kind === 'conv' && n.residual !== undefined) {
      y = g.node('Add', [y, names.get(n.residual)!], n.activation === 'none' ? out : `${n.name}.sum`);
    }
    names.set(n.output, g.activation(y, n.activation, out));
  }
  return g;
}

/** The whole ModelProto as protobuf chunks (weights are referenced, not copied). */
export function encodeOnnxModel(arch: Architecture, params: Params, source: string): Encoded {
  if (endianness() !== 'LE') throw new Error('rcae writes ONNX files on little-endian hosts only');
  const model = foldModel(arch, params, source);
  const g = buildGraph(model);
  const graph = new MessageWriter();
  for (const n of g.nodes) graph.message(1, nodeProto(n));
  graph.string(2, 'rcae');
  for (const t of g.initializers) graph.message(5, t);
  const image = model.plan.values[model.plan.io.image].shape;
  const recon = model.plan.values[model.plan.io.reconstruction].shape;
  graph.message(11, valueInfoProto(ONNX_INPUT, image)).message(12, valueInfoProto(ONNX_OUTPUT, recon));
  return new MessageWriter()
    .uint(1, ONNX_IR_VERSION)
    .string(2, 'rcae-webgpu')
    .message(7, graph.finish())
    .message(8, new MessageWriter().string(1, '').uint(2, ONNX_OPSET).finish())
    .finish();
}

/** Writes the ONNX file; it appears complete or not at all. */
export async function writeOnnxModel(path: string, arch: Architecture, params: Params, source: string): Promise<void> {
  const encoded = encodeOnnxModel(arch, params, source);
  await writeAtomically(path, async (tmp) => {
    const file = await open(tmp, 'w');
    try {
      // The many few-byte chunks (tags, lengths) go out in blocks; weight chunks go out as they are.
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes > 0) await file.write(Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
      };
      for (const chunk of encoded.chunks) {
        if (chunk.length >= WRITE_BLOCK) {
          await flush();
          await file.write(chunk);
        } else {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= WRITE_BLOCK) await flush();
        }
      }
      await flush();
    } finally {
      await file.close();
    }
  });
}
