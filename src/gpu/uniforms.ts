// A uniform block is declared once, by name; the WGSL struct text and the byte packer are both
// derived from that declaration, so host values and shader layout cannot drift apart.

import { RcaeError } from '../errors.js';

export type UniformType = 'u32' | 'i32' | 'f32' | 'vec2u' | 'vec2i' | 'vec2f' | 'vec3u' | 'vec3i' | 'vec3f' | 'vec4u' | 'vec4i' | 'vec4f';

type Scalar = 'u32' | 'i32' | 'f32';
// WGSL layout rules (host-shareable, uniform address space): size and alignment per type.
const layout: Record<UniformType, { scalar: Scalar; lanes: number; align: number; size: number }> = {
  u32: { scalar: 'u32', lanes: 1, align: 4, size: 4 },
  i32: { scalar: 'i32', lanes: 1, align: 4, size: 4 },
  f32: { scalar: 'f32', lanes: 1, align: 4, size: 4 },
  vec2u: { scalar: 'u32', lanes: 2, align: 8, size: 8 },
  vec2i: { scalar: 'i32', lanes: 2, align: 8, size: 8 },
  vec2f: { scalar: 'f32', lanes: 2, align: 8, size: 8 },
  vec3u: { scalar: 'u32', lanes: 3, align: 16, size: 12 },
  vec3i: { scalar: 'i32', lanes: 3, align: 16, size: 12 },
  vec3f: { scalar: 'f32', lanes: 3, align: 16, size: 12 },
  vec4u: { scalar: 'u32', lanes: 4, align: 16, size: 16 },
  vec4i: { scalar: 'i32', lanes: 4, align: 16, size: 16 },
  vec4f: { scalar: 'f32', lanes: 4, align: 16, size: 16 },
};

export type UniformFields = Readonly<Record<string, UniformType>>;
export type UniformValues<F extends UniformFields> = { readonly [K in keyof F]: F[K] extends Scalar ? number : readonly number[] };

export interface UniformField { name: string; type: UniformType; offset: number }

export class UniformLayoutError extends RcaeError {
  readonly kind = 'internal';
}

export class UniformStruct<F extends UniformFields> {
  readonly fields: readonly UniformField[];
  /** Bytes the buffer must hold: the struct size rounded up to 16, as uniform bindings require. */
  readonly byteSize: number;
  /** The WGSL struct declaration, injected into the shaders that use this block. */
  readonly wgsl: string;

  constructor(readonly name: string, declared: F) {
    if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) throw new UniformLayoutError(`uniform struct name "${name}" is not a WGSL type name`);
    let offset = 0;
    let align = 4;
    const fields: UniformField[] = [];
    for (const [field, type] of Object.entries(declared)) {
      if (!/^[a-z][A-Za-z0-9]*$/.test(field)) throw new UniformLayoutError(`${name}.${field}: not a WGSL member name`);
      const l = layout[type];
      if (!l) throw new UniformLayoutError(`${name}.${field}: unknown uniform type ${String(type)}`);
      offset = Math.ceil(offset / l.align) * l.align;
      fields.push({ name: field, type, offset });
      offset += l.size;
      align = Math.max(align, l.align);
    }
    if (fields.length === 0) throw new UniformLayoutError(`uniform struct ${name} has no fields`);
    this.fields = fields;
    this.byteSize = Math.ceil(offset / Math.max(align, 16)) * Math.max(align, 16);
    const wgslType = (t: UniformType): string => (layout[t].lanes === 1 ? t : `vec${layout[t].lanes}<${layout[t].scalar}>`);
    this.wgsl = `struct ${name} {\n${fields.map((f) => `  ${f.name}: ${wgslType(f.type)},\n`).join('')}}\n`;
  }

  /** Packs values into the exact byte layout WGSL expects; rejects missing fields and out-of-range values. */
  pack(values: UniformValues<F>): Uint32Array {
    const bytes = new ArrayBuffer(this.byteSize);
    const view = new DataView(bytes);
    const given = values as Readonly<Record<string, number | readonly number[]>>;
    for (const key of Object.keys(given)) {
      if (!this.fields.some((f) => f.name === key)) throw new UniformLayoutError(`${this.name}: unknown field ${key}`);
    }
    for (const field of this.fields) {
      const l = layout[field.type];
      const value = given[field.name];
      if (value === undefined) throw new UniformLayoutError(`${this.name}.${field.name}: missing value`);
      const lanes = typeof value === 'number' ? [value] : value;
      if (lanes.length !== l.lanes) throw new UniformLayoutError(`${this.name}.${field.name}: expected ${l.lanes} component(s), got ${lanes.length}`);
      lanes.forEach((v, i) => writeScalar(view, field.offset + 4 * i, l.scalar, v, `${this.name}.${field.name}`));
    }
    return new Uint32Array(bytes);
  }
}

function writeScalar(view: DataView, offset: number, scalar: Scalar, v: number, what: string): void {
  if (scalar === 'f32') {
    if (!Number.isFinite(v)) throw new UniformLayoutError(`${what}: ${v} is not a finite number`);
    view.setFloat32(offset, v, true);
  } else if (scalar === 'u32') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new UniformLayoutError(`${what}: ${v} is not a u32`);
    view.setUint32(offset, v, true);
  } else {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new UniformLayoutError(`${what}: ${v} is not an i32`);
    view.setInt32(offset, v, true);
  }
}

export function uniformStruct<F extends UniformFields>(name: string, fields: F): UniformStruct<F> {
  return new UniformStruct(name, fields);
}
