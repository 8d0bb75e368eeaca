// How a GEMM tile lays out its workgroup memory: the row strides (padding included) of the A, B and
// result tiles, and how invocations are dealt the quads they fetch and commit. One source for the
// shader's prelude constants (gemm.ts), for the memory a tile needs (tileStorageBytes) and for the
// bank model that checks the layout (bench/banks.ts), so none of them can drift from the others.
//
// Why these strides (banks: 32 of 4 bytes; a wavefront serves 128 bytes):
// - f16 tiles (tensor cores): a fragment is read like ldmatrix, 8 stored rows of 16 bytes per phase;
//   the rows are conflict-free when the row stride is an odd multiple of 16 bytes, i.e. 8 (mod 16)
//   halves. Peers pad the same: llama.cpp's coopmat mul_mm.comp (SHMEM_STRIDE = BK / 2 + 4 f16vec2,
//   i.e. BK + 8 halves) and onnxruntime's 16x16x16 subgroup-matrix MatMulNBits (SHMEM_STRIDE = 40 =
//   BK + 8); CUTLASS swizzles (XOR) instead, which subgroupMatrixLoad's plain stride cannot express.
//   The result patch (f32) is written from the accumulator registers, 4 rows x 32 bytes per
//   half-warp (there is no 32-bit stmatrix), conflict-free at a stride of 8 (mod 16) floats.
// - f32 tiles (the FMA kernel, and the emulated fragments on CPU adapters): A is committed transposed
//   by runs of 2 quads of 16 pixels, one scalar store per k, conflict-free when 4 rows apart land 16
//   banks apart: a stride of 4 (mod 8) floats. B rows need no padding: its vec4 commit is contiguous
//   and its vec4 reads are interleaved across invocations.
import type { FragmentShape } from '../../gpu/device.js';
import type { GemmTile } from './gemm.js';

export interface TileLayout {
  /** Bytes per tile element: f16 where tensor cores read the tiles, f32 elsewhere. */
  element: 2 | 4;
  /** Elements per k row of tileA ([2][BK][A_STRIDE], pixels along a row) and of tileB ([2][BK][B_STRIDE]). */
  aStride: number;
  bStride: number;
  /** Floats per row of a subgroup's result patch (subgroup-matrix kernels; 0 for fma). */
  cStride: number;
  /** Quads dealt to consecutive invocations along a row before the next row (A: of one pixel; B: of one k). */
  aRun: number;
  bRun: number;
}

/** Invocations per workgroup of a tile. */
export function tileInvocations(tile: GemmTile, fragment: FragmentShape): number {
  return tile.backend === 'fma' ? (tile.bc / tile.tc!) * (tile.bp / tile.tp!) : tile.sgp! * tile.sgc! * fragment.subgroup;
}

/** The smallest stride >= `width` that is `residue` modulo `modulus`. */
function strideOf(width: number, residue: number, modulus: number): number {
  return width + ((residue - (width % modulus) + modulus) % modulus);
}

/** The largest of 4, 2, 1 that divides `quads`. */
function runOf(quads: number, most: number): number {
  for (let run = most; run > 1; run /= 2) if (quads % run === 0) return run;
  return 1;
}

export function tileLayout(tile: GemmTile, fragment: FragmentShape): TileLayout {
  const k4 = tile.bk / 4;
  const c4 = tile.bc / 4;
  if (tile.backend === 'fma') {
    return { element: 4, aStride: strideOf(tile.bp, 4, 8), bStride: tile.bc, cStride: 0, aRun: runOf(k4, 2), bRun: c4 };
  }
  return {
    element: tile.backend === 'matrix' ? 2 : 4,
    aStride: strideOf(tile.bp, 8, 16),
    bStride: strideOf(tile.bc, 8, 16),
    cStride: strideOf(fragment.n, 8, 16),
    aRun: runOf(k4, 2),
    bRun: runOf(c4, 4),
  };
}

/** The layout as WGSL constants, for the shader's prelude. */
export function layoutConstants(layout: TileLayout): string[] {
  const lines = [`const A_STRIDE = ${layout.aStride}u;`, `const B_STRIDE = ${layout.bStride}u;`, `const A_RUN = ${layout.aRun}u;`, `const B_RUN = ${layout.bRun}u;`];
  if (layout.cStride > 0) lines.push(`const C_STRIDE = ${layout.cStride}u;`);
  return lines;
}

/**
 * Workgroup memory a tile needs, in bytes: double-buffered A and B with their padding, the row table
 * (a vec4<u32> per pixel row) and, for subgroup matrices, one result patch per subgroup.
 */
export function tileStorageBytes(tile: GemmTile, fragment: FragmentShape): number {
  const layout = tileLayout(tile, fragment);
  const patches = tile.backend === 'fma' ? 0 : tile.sgp! * tile.sgc! * fragment.m * layout.cStride * 4;
  return 2 * tile.bk * (layout.aStride + layout.bStride) * layout.element + 16 * tile.bp + patches;
}
