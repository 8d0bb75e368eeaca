// The protobuf wire format, encode side only, as much as an ONNX ModelProto needs. A message is kept
// as a list of byte chunks with its total length, so that embedding a 140 MB initializer in a
// tensor, the tensor in a graph and the graph in a model never copies the weights.

export interface Encoded {
  readonly chunks: readonly Uint8Array[];
  readonly length: number;
}

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

function varint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf varint must be a non-negative safe integer, got ${value}`);
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}

function tag(field: number, wire: number): Uint8Array {
  return varint(field * 8 + wire);
}

const utf8 = new TextEncoder();

export class MessageWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(...parts: Uint8Array[]): this {
    for (const p of parts) {
      this.chunks.push(p);
      this.length += p.length;
    }
    return this;
  }

  /** An unsigned varint field (int32/int64/enum values that are never negative). */
  uint(field: number, value: number): this {
    return this.push(tag(field, WIRE_VARINT), varint(value));
  }

  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.push(tag(field, WIRE_FIXED32), bytes);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.push(tag(field, WIRE_LENGTH_DELIMITED), varint(value.length), value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, value: Encoded): this {
    return this.push(tag(field, WIRE_LENGTH_DELIMITED), varint(value.length), ...value.chunks);
  }

  finish(): Encoded {
    return { chunks: this.chunks, length: this.length };
  }
}

export function concat(message: Encoded): Uint8Array {
  const out = new Uint8Array(message.length);
  let at = 0;
  for (const c of message.chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
