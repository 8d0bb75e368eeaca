// A tensor read from a weights file, kept as raw little-endian bytes until someone asks for
// float32: large checkpoints are converted once, on demand, and strided views (a transposed
// tensor saved as-is) are gathered element by element.
import { WeightsFormatError, formatShape } from './format-error.js';
import { float16Value } from '../gpu/f16.js';
import { GpuError } from '../gpu/device.js';
import { elementCount } from '../graph/architecture.js';

export type TensorDType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i64' | 'i32' | 'u8' | 'bool';

export interface HostTensor {
  readonly dtype: TensorDType;
  readonly shape: number[];
  /** A fresh float32 copy of the values in row-major (C) order. */
  toFloat32(): Float32Array;
}

export const DTYPE_BYTES: Readonly<Record<TensorDType, number>> = { f32: 4, f16: 2, bf16: 2, f64: 8, i64: 8, i32: 4, u8: 1, bool: 1 };

export const MAX_RANK = 16;

/** Files and GPU buffers are little-endian; typed arrays use the host's order, so the two must agree. */
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export function assertLittleEndianHost(): void {
  if (!littleEndianHost) throw new GpuError('rcae handles weights on little-endian hosts only');
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export class StoredTensor implements HostTensor {
  readonly shape: number[];
  private readonly strides: number[];

  /**
   * `storage` holds the elements the view indexes into; `offset` and `strides` count elements, as
   * in torch. Throws when any element of the view would fall outside the storage.
   */
  constructor(
    readonly dtype: TensorDType,
    shape: readonly number[],
    private readonly storage: Uint8Array,
    where: { source: string; name: string },
    strides: readonly number[] = contiguousStrides(shape),
    private readonly offset = 0,
  ) {
    const fail = (problem: string): never => {
      throw new WeightsFormatError(where.source, `tensor ${where.name}: ${problem}`);
    };
    if (shape.length > MAX_RANK) fail(`rank ${shape.length} exceeds ${MAX_RANK}`);
    if (strides.length !== shape.length) fail(`has ${strides.length} strides for shape ${formatShape(shape)}`);
    for (const v of [...shape, ...strides, offset]) {
      if (!Number.isSafeInteger(v) || v < 0) fail(`size, stride or offset ${v} is not a non-negative integer`);
    }
    const available = Math.floor(storage.length / DTYPE_BYTES[dtype]);
    if (elementCount(shape) > 0) {
      const last = shape.reduce((at, n, i) => at + (n - 1) * strides[i], offset);
      if (!Number.isSafeInteger(last) || last >= available) {
        fail(`shape ${formatShape(shape)} with strides ${formatShape(strides)} at offset ${offset} reaches element ${last}, storage holds ${available}`);
      }
    } else if (offset > available) {
      fail(`offset ${offset} is beyond its storage of ${available} elements`);
    }
    this.shape = [...shape];
    this.strides = [...strides];
  }

  toFloat32(): Float32Array {
    assertLittleEndianHost();
    const n = elementCount(this.shape);
    const out = new Float32Array(n);
    if (n === 0) return out;
    const index = this.isContiguous() ? null : this.gatherIndex(n);
    const start = this.offset;
    const fill = (read: (j: number) => number): void => {
      if (index) for (let i = 0; i < n; i++) out[i] = read(index[i]);
      else for (let i = 0; i < n; i++) out[i] = read(start + i);
    };
    const bytes = this.aligned();
    const { buffer, byteOffset, byteLength } = bytes;
    const width = DTYPE_BYTES[this.dtype];
    const count = Math.floor(byteLength / width);
    switch (this.dtype) {
      case 'f32': {
        const a = new Float32Array(buffer, byteOffset, count);
        if (index) fill((j) => a[j]);
        else out.set(a.subarray(start, start + n));
        break;
      }
      case 'f64': {
        const a = new Float64Array(buffer, byteOffset, count);
        fill((j) => a[j]);
        break;
      }
      case 'f16': {
        const a = new Uint16Array(buffer, byteOffset, count);
        const table = halfTable();
        fill((j) => table[a[j]]);
        break;
      }
      case 'bf16': {
        // bfloat16 is the top half of a float32: shift the bits into place.
        const a = new Uint16Array(buffer, byteOffset, count);
        const bits = new Uint32Array(out.buffer);
        if (index) for (let i = 0; i < n; i++) bits[i] = a[index[i]] << 16;
        else for (let i = 0; i < n; i++) bits[i] = a[start + i] << 16;
        break;
      }
      case 'i64': {
        const a = new BigInt64Array(buffer, byteOffset, count);
        fill((j) => Number(a[j]));
        break;
      }
      case 'i32': {
        const a = new Int32Array(buffer, byteOffset, count);
        fill((j) => a[j]);
        break;
      }
      case 'u8': {
        fill((j) => bytes[j]);
        break;
      }
      case 'bool': {
        fill((j) => (bytes[j] !== 0 ? 1 : 0));
        break;
      }
    }
    return out;
  }

  private isContiguous(): boolean {
    const expected = contiguousStrides(this.shape);
    return this.shape.every((n, i) => n === 1 || this.strides[i] === expected[i]);
  }

  /** Storage element index of every view element, in row-major order. */
  private gatherIndex(n: number): Float64Array {
    const index = new Float64Array(n);
    const rank = this.shape.length;
    const counter = new Array<number>(rank).fill(0);
    let at = this.offset;
    for (let i = 0; i < n; i++) {
      index[i] = at;
      for (let d = rank - 1; d >= 0; d--) {
        if (++counter[d] < this.shape[d]) {
          at += this.strides[d];
          break;
        }
        at -= (this.shape[d] - 1) * this.strides[d];
        counter[d] = 0;
      }
    }
    return index;
  }

  /** Typed arrays need element-aligned offsets; copy the bytes when the file layout is not. */
  private aligned(): Uint8Array {
    // new Uint8Array(view) copies; Buffer#slice (the storage may be a Buffer) would not.
    return this.storage.byteOffset % DTYPE_BYTES[this.dtype] === 0 ? this.storage : new Uint8Array(this.storage);
  }
}

let half: Float32Array | undefined;

/** float32 value of every IEEE binary16 bit pattern (exact: binary16 is a subset of binary32). */
function halfTable(): Float32Array {
  if (half) return half;
  half = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) half[h] = float16Value(h);
  return half;
}
