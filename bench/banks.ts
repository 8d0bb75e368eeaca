// Bank model of the GEMM kernels' workgroup memory (src/kernels/conv2d), for an NVIDIA GPU: 32 banks
// of 4 bytes, one wavefront serving up to 128 bytes. Each access of a kernel is replayed for every
// 32-lane subgroup of a workgroup over one K step (the epilogue: over one tile), from the layout the
// shader is compiled with (gemm-layout.ts: strides, runs), and counted in wavefronts per phase:
// - a per-lane access of w bytes is served in phases of 128 / max(w, 4) bytes' worth of lanes (32
//   lanes of <= 4 bytes, 16 of 8, 8 of 16); a phase takes as many wavefronts as the most distinct
//   4-byte words any one bank holds (lanes reading one word share it);
// - a subgroupMatrixLoad is modelled as ldmatrix: the fragment's stored rows in 16-byte pieces, 8
//   rows of one piece per phase; its f32 result store both stmatrix-style (the same, 8 rows x 16
//   bytes) and as NVIDIA stores accumulators from registers (no 32-bit stmatrix: each lane holds
//   2 adjacent floats of rows lane / 4 and lane / 4 + 8 of every 8 columns, 8-byte stores).
// 1 wavefront per phase is conflict-free; the kernels are built for <= 2 everywhere.
//
// Every access names the WGSL expression it replays (file and code); test/bench/banks.test.ts checks
// that each expression still appears verbatim in its file, so a kernel edit cannot leave this
// model describing code that no longer exists.
import type { FragmentShape } from '../src/gpu/device.js';
import { tileInvocations, tileLayout, type TileLayout } from '../src/kernels/conv2d/gemm-layout.js';
import type { GemmTile } from '../src/kernels/conv2d/gemm.js';

const SUBGROUP = 32;
const BANKS = 32;
const WAVEFRONT_BYTES = 128;

/** One instruction of one subgroup: per-lane accesses (null: lane idle), or a matrix's stored rows. */
export type Instruction = { lanes: ({ byte: number; bytes: number } | null)[] } | { rows: number[]; rowBytes: number };

export interface BankAccess {
  name: string;
  /** The WGSL it replays: a file under src/kernels/conv2d/ and an expression in it. */
  wgsl: { file: string; code: string };
  /** Instructions per workgroup per K step (per tile for the epilogue), over all subgroups. */
  instructions: number;
  wavefronts: number;
  /** Phases: the wavefronts the same bytes would take without conflicts. */
  phases: number;
  /** The most wavefronts any one phase took. */
  worst: number;
}

/** Wavefronts of one phase: the most distinct words in one bank (0 when nothing is accessed). */
function phaseWavefronts(words: number[]): number {
  const perBank = new Map<number, Set<number>>();
  for (const w of words) {
    const bank = ((w % BANKS) + BANKS) % BANKS;
    if (!perBank.has(bank)) perBank.set(bank, new Set());
    perBank.get(bank)!.add(w);
  }
  return Math.max(0, ...[...perBank.values()].map((s) => s.size));
}

/** Wavefronts per phase of one instruction. */
export function wavefrontsPerPhase(instruction: Instruction): number[] {
  const phases: number[][] = [];
  if ('rows' in instruction) {
    for (let piece = 0; piece * 16 < instruction.rowBytes; piece++) {
      for (let r = 0; r < instruction.rows.length; r += 8) {
        phases.push(instruction.rows.slice(r, r + 8).flatMap((start) => wordsOf(start + 16 * piece, 16)));
      }
    }
  } else {
    const width = Math.max(4, ...instruction.lanes.map((l) => l?.bytes ?? 0));
    const perPhase = WAVEFRONT_BYTES / width;
    for (let l = 0; l < instruction.lanes.length; l += perPhase) {
      phases.push(instruction.lanes.slice(l, l + perPhase).flatMap((a) => (a ? wordsOf(a.byte, a.bytes) : [])));
    }
  }
  return phases.map(phaseWavefronts).filter((w) => w > 0);
}

function wordsOf(byte: number, bytes: number): number[] {
  const words: number[] = [];
  for (let w = Math.floor(byte / 4); w * 4 < byte + bytes; w++) words.push(w);
  return words;
}

function summarize(name: string, wgsl: BankAccess['wgsl'], instructions: Instruction[]): BankAccess {
  const phases = instructions.map(wavefrontsPerPhase);
  return {
    name,
    wgsl,
    instructions: instructions.length,
    wavefronts: phases.flat().reduce((a, b) => a + b, 0),
    phases: phases.flat().length,
    worst: Math.max(0, ...phases.flat()),
  };
}

/** One instruction per subgroup of `invocations`: lane l of subgroup s accesses `at(s * 32 + l)`. */
function perLane(invocations: number, at: (lid: number) => { byte: number; bytes: number } | null): Instruction[] {
  const out: Instruction[] = [];
  for (let s = 0; s * SUBGROUP < invocations; s++) {
    out.push({ lanes: Array.from({ length: SUBGROUP }, (_, l) => (s * SUBGROUP + l < invocations ? at(s * SUBGROUP + l) : null)) });
  }
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** gemm-tiles.wgsl quadAt: quad q of an operand with `rows` rows, as [row, quad]. */
function quadAt(q: number, rows: number, run: number): [number, number] {
  const r = Math.floor(q / run);
  return [r % rows, Math.floor(r / rows) * run + (q % run)];
}

/**
 * A commit loop (`commit` in conv2d-gemm-*.wgsl): in round i every invocation stores `stores` times
 * into its quad (gemm-tiles.wgsl quadOfA / quadOfB) of an operand of `rows` x `quads` quads.
 */
function commitInstructions(wg: number, rows: number, quads: number, run: number, stores: number, at: (row: number, quad: number, j: number) => { byte: number; bytes: number }): Instruction[] {
  const total = rows * quads;
  return range(Math.ceil(total / wg)).flatMap((i) =>
    range(stores).flatMap((j) =>
      perLane(wg, (lid) => {
        const q = lid + i * wg;
        return q < total ? at(...quadAt(q, rows, run), j) : null;
      }),
    ),
  );
}

/** The FMA kernel (conv2d-gemm-fma.wgsl): f32 tiles of vec4 rows, K step `buf` 0. */
function fmaAccesses(tile: GemmTile, fragment: FragmentShape, layout: TileLayout): BankAccess[] {
  const { bp, bc, bk } = tile;
  const [tp, tc] = [tile.tp!, tile.tc!];
  const wg = tileInvocations(tile, fragment);
  const [a4, b4, np, nc] = [layout.aStride / 4, layout.bStride / 4, bp / tp, bc / tc];
  const file = 'conv2d-gemm-fma.wgsl';
  // A: pixel `pixel` is component pixel % 4 of vec4 pixel / 4 in k rows 4 quad + j.
  const commitA = commitInstructions(wg, bp, bk / 4, layout.aRun, 4, (pixel, quad, j) => ({ byte: (((4 * quad + j) * a4 + Math.floor(pixel / 4)) * 4 + (pixel % 4)) * 4, bytes: 4 }));
  const commitB = commitInstructions(wg, bk, bc / 4, layout.bRun, 1, (k, quad) => ({ byte: (k * b4 + quad) * 16, bytes: 16 }));
  const readA = range(bk).flatMap((k) => range(tp / 4).flatMap((i) => perLane(wg, (lid) => ({ byte: (k * a4 + Math.floor(lid / nc) + i * np) * 16, bytes: 16 }))));
  const readB = range(bk).flatMap((k) => range(tc / 4).flatMap((j) => perLane(wg, (lid) => ({ byte: (k * b4 + (lid % nc) + j * nc) * 16, bytes: 16 }))));
  return [
    summarize('A commit', { file, code: 'tileA[row + j * A4][px] = v[j]' }, commitA),
    summarize('B commit', { file, code: 'tileB[(buf * BK + at.x) * B4 + at.y] = vec4<f32>(fetchedB[i])' }, commitB),
    summarize('A read', { file, code: 'a[i] = tileA[aRow + i * NP]' }, readA),
    summarize('B read', { file, code: 'b[j] = tileB[bRow + j * NC]' }, readB),
  ];
}

/** The subgroup-matrix kernel (conv2d-gemm-matrix.wgsl) with the builtin or the emulated fragments. */
function matrixAccesses(tile: GemmTile, fragment: FragmentShape, layout: TileLayout): BankAccess[] {
  const { bp, bc, bk } = tile;
  const [sgp, sgc, fm, fn] = [tile.sgp!, tile.sgc!, tile.fm!, tile.fn!];
  const { element: e, aStride, bStride, cStride } = layout;
  const wg = tileInvocations(tile, fragment);
  const file = 'conv2d-gemm-matrix.wgsl';
  const frag = tile.backend === 'matrix' ? 'gemm-frag-builtin.wgsl' : 'gemm-frag-emulated.wgsl';
  const subgroups = range(sgp * sgc);
  const kSteps = range(bk / fragment.k).map((s) => s * fragment.k);
  // Where each subgroup's fragments start (conv2d-gemm-matrix.wgsl, the fragLoadLeft/Right calls).
  const left = (g: number, k: number, i: number) => k * aStride + (Math.floor(g / sgc) * fm + i) * fragment.m;
  const right = (g: number, k: number, j: number) => k * bStride + ((g % sgc) * fn + j) * fragment.n;
  const lefts = subgroups.flatMap((g) => kSteps.flatMap((k) => range(fm).map((i) => left(g, k, i))));
  const rights = subgroups.flatMap((g) => kSteps.flatMap((k) => range(fn).map((j) => right(g, k, j))));
  const own = (g: number) => g * fragment.m * cStride;

  const commitA = commitInstructions(wg, bp, bk / 4, layout.aRun, 4, (pixel, quad, j) => ({ byte: ((4 * quad + j) * aStride + pixel) * e, bytes: e }));
  // B: every other pair of quads stores its halves in the order z w x y.
  const commitB = commitInstructions(wg, bk, bc / 4, layout.bRun, 4, (k, quad, j) => ({ byte: (k * bStride + 4 * quad + (j ^ (quad & 2))) * e, bytes: e }));
  // The epilogue: lane reads element e = lane + t * SG of its subgroup's patch.
  const patch = (at: (g: number, el: number) => number) =>
    subgroups.flatMap((g) => range((fragment.m * fragment.n) / SUBGROUP).map((t) => ({ lanes: range(SUBGROUP).map((l) => ({ byte: at(g, l + t * SUBGROUP) * 4, bytes: 4 })) })));
  const inPatch = (g: number, el: number) => own(g) + Math.floor(el / fragment.n) * cStride + (el % fragment.n);
  const accesses = [
    summarize('A commit', { file, code: 'tileA[base + j * A_STRIDE] = v[j]' }, commitA),
    summarize('B commit', { file, code: 'tileB[base + (j ^ swap)] = v[j ^ swap]' }, commitB),
  ];
  if (tile.backend === 'matrix') {
    // Both operands are stored k-major: FRAG_K rows of FRAG_M (left) or FRAG_N (right) elements.
    const rows = (start: number, stride: number, width: number) => ({ rows: range(fragment.k).map((r) => (start + r * stride) * e), rowBytes: width * e });
    accesses.push(
      summarize('left fragment load', { file: frag, code: 'subgroupMatrixLoad<FragLeft, col_major>(&tileA, at, A_STRIDE)' }, lefts.map((at) => rows(at, aStride, fragment.m))),
      summarize('right fragment load', { file: frag, code: 'subgroupMatrixLoad<FragRight, row_major>(&tileB, at, B_STRIDE)' }, rights.map((at) => rows(at, bStride, fragment.n))),
    );
    const store = { file: frag, code: 'subgroupMatrixStore<row_major>(&tileC, at, c, C_STRIDE)' };
    accesses.push(summarize('result store (stmatrix-style)', store, subgroups.map((g) => ({ rows: range(fragment.m).map((r) => (own(g) + r * cStride) * 4), rowBytes: fragment.n * 4 }))));
    // Accumulator registers: per 8 x 8 block of the result, lane l holds row l / 4, columns 2 (l % 4) + 0, 1.
    const blocks = range(fragment.m / 8).flatMap((rb) => range(fragment.n / 8).map((cb) => [rb, cb]));
    const fromRegisters = subgroups.flatMap((g) => blocks.map(([rb, cb]) => ({ lanes: range(SUBGROUP).map((l) => ({ byte: (own(g) + (rb * 8 + Math.floor(l / 4)) * cStride + cb * 8 + 2 * (l % 4)) * 4, bytes: 8 })) })));
    accesses.push(summarize('result store (registers, 8 B)', store, fromRegisters));
  } else {
    // Each emulated multiply-accumulate (one per left x right pair) reads both operands k deep; lane
    // element e = lane + t * SG sits at row e / FRAG_N, column e % FRAG_N of the result.
    const pairs = subgroups.flatMap((g) => kSteps.flatMap((k) => range(fm).flatMap((i) => range(fn).map((j) => [left(g, k, i), right(g, k, j)]))));
    const steps = range((fragment.m * fragment.n) / SUBGROUP).flatMap((t) => range(fragment.k).map((k) => [t, k]));
    const read = (at: (pair: number[], k: number, el: number) => number) =>
      pairs.flatMap((pair) => steps.map(([t, k]) => ({ lanes: range(SUBGROUP).map((l) => ({ byte: at(pair, k, l + t * SUBGROUP) * e, bytes: e })) })));
    accesses.push(
      summarize('left fragment read', { file: frag, code: 'tileA[a.at + k * A_STRIDE + row]' }, read(([a], k, el) => a + k * aStride + Math.floor(el / fragment.n))),
      summarize('right fragment read', { file: frag, code: 'tileB[b.at + k * B_STRIDE + col]' }, read(([, b], k, el) => b + k * bStride + (el % fragment.n))),
      summarize('result store', { file: frag, code: 'tileC[at + (e / FRAG_N) * C_STRIDE + e % FRAG_N] = c[t]' }, patch(inPatch)),
    );
  }
  accesses.push(summarize('epilogue read', { file, code: 'tileC[own + (e / FRAG_N) * C_STRIDE + e % FRAG_N]' }, patch(inPatch)));
  return accesses;
}

/** Every workgroup-memory access of `tile`'s kernel, under `layout` (default: the one it is compiled with). */
export function bankAccesses(tile: GemmTile, fragment: FragmentShape, layout: TileLayout = tileLayout(tile, fragment)): BankAccess[] {
  if (fragment.subgroup !== SUBGROUP) throw new RangeError(`the bank model replays ${SUBGROUP}-lane subgroups, not ${fragment.subgroup}`);
  return tile.backend === 'fma' ? fmaAccesses(tile, fragment, layout) : matrixAccesses(tile, fragment, layout);
}
