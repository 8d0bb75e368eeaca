// The bank model of the GEMM kernels (bench/banks.ts) over every tile the engine ships: each tile
// the heuristic or `rcae tune`'s candidates produce for any layer of the reference model (widths 4
// to 64, batches 1 to 1024), for the `tile` (fma, f32 and f16), `matrix` and `matrix-emulated`
// kernels, on an H100-sized adapter. Every workgroup-memory access must take <= 2 wavefronts per
// phase; the table of the worst case per access is printed. The model's WGSL expressions must still
// be in the kernels, and the model must catch the unpadded layout the tiles had before padding.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bankAccesses, wavefrontsPerPhase, type BankAccess } from '../../bench/banks.js';
import { WGSL_SOURCES } from '../../src/gpu/wgsl-bundle.js';
import { referenceArchitecture } from '../../src/graph/architecture.js';
import { convLayers } from '../../src/graph/lower.js';
import { buildPlan } from '../../src/graph/plan.js';
import { tileLayout } from '../../src/kernels/conv2d/gemm-layout.js';
import { EMULATED_FRAGMENT, gemmHeuristic, tileKey, type GemmBackend, type GemmDevice, type GemmTile, type Precision } from '../../src/kernels/conv2d/gemm.js';
import { candidateTiles } from '../../src/kernels/variants.js';

const test = suite('bench/banks');

// An H100 as Dawn reports it on Vulkan (shared/design/gpu-first-contact.md): 48 KiB of workgroup
// memory, 1024 invocations, 16x16x16 f16 fragments on 32-lane subgroups. Every tile a smaller
// adapter (lavapipe's 32 KiB, the null backend's 16 KiB) can pick is among its candidates too.
const h100: GemmDevice = {
  limits: { maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024 },
  features: new Set(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']),
  fragment: EMULATED_FRAGMENT,
  subgroupMinSize: 32,
  subgroupMaxSize: 32,
};
const fragment = EMULATED_FRAGMENT;

function shippedTiles(): GemmTile[] {
  const tiles = new Map<string, GemmTile>();
  const kinds: [Precision, GemmBackend][] = [['f32', 'fma'], ['f16', 'fma'], ['f16', 'matrix'], ['f16', 'matrix-emulated']];
  for (const width of [4, 8, 16, 32, 64]) {
    const plan = buildPlan(referenceArchitecture(width));
    for (const { spec, inH, inW } of convLayers(plan, 'f32')) {
      for (const batch of [1, 8, 256, 1024]) {
        for (const [precision, backend] of kinds) {
          for (const tile of [gemmHeuristic(h100, spec, batch, inH, inW, precision, backend), ...candidateTiles(h100, spec, batch, inH, inW, precision, backend)]) {
            // Split-K changes which K range a workgroup walks, not its workgroup memory.
            const shape = { ...tile, splitK: 1 };
            tiles.set(tileKey(shape), shape);
          }
        }
      }
    }
  }
  return [...tiles.values()];
}

const tiles = shippedTiles();
const kernelOf = (t: GemmTile) => t.backend;

test('every access of every shipped tile takes <= 2 wavefronts per phase', () => {
  const worst = new Map<string, { access: BankAccess; tile: GemmTile; tiles: number }>();
  const failures: string[] = [];
  for (const tile of tiles) {
    for (const access of bankAccesses(tile, fragment)) {
      if (access.worst > 2) failures.push(`${tileKey(tile)} ${access.name}: ${access.worst} wavefronts in one phase`);
      const key = `${kernelOf(tile)}|${access.name}`;
      const seen = worst.get(key);
      if (!seen || access.worst > seen.access.worst) worst.set(key, { access, tile, tiles: (seen?.tiles ?? 0) + 1 });
      else seen.tiles++;
    }
  }
  console.log(`  ${tiles.length} tiles (${['fma', 'matrix', 'matrix-emulated'].map((k) => `${tiles.filter((t) => kernelOf(t) === k).length} ${k}`).join(', ')}); worst case per access:`);
  console.log('  kernel           access                          tiles  worst  wavefronts/phases  at tile');
  for (const [key, { access, tile, tiles: n }] of worst) {
    const [kernel, name] = key.split('|');
    console.log(`  ${kernel.padEnd(16)} ${name.padEnd(31)} ${String(n).padStart(5)} ${String(access.worst).padStart(6)}  ${`${access.wavefronts}/${access.phases}`.padStart(17)}  ${tileKey(tile)}`);
  }
  assert.equal(failures, []);
  assert.ok(tiles.some((t) => t.backend === 'matrix') && tiles.some((t) => t.backend === 'matrix-emulated') && tiles.some((t) => t.backend === 'fma'));
});

test('each access names WGSL that is in its kernel', () => {
  const samples = [tiles.find((t) => t.backend === 'fma')!, tiles.find((t) => t.backend === 'matrix')!, tiles.find((t) => t.backend === 'matrix-emulated')!];
  for (const tile of samples) {
    for (const { name, wgsl } of bankAccesses(tile, fragment)) {
      const source = WGSL_SOURCES.get(`kernels/conv2d/${wgsl.file}`);
      assert.ok(source?.includes(wgsl.code), `${tile.backend} ${name}: "${wgsl.code}" is not in ${wgsl.file}`);
    }
  }
});

test('the unpadded layout of the tensor-core tiles fails: 128-byte rows put a fragment in 8 banks', () => {
  const tile: GemmTile = { backend: 'matrix', bp: 64, bc: 64, bk: 32, sgp: 2, sgc: 2, fm: 2, fn: 2, splitK: 1 };
  const unpadded = { ...tileLayout(tile, fragment), aStride: tile.bp, bStride: tile.bc, cStride: fragment.n };
  const worst = Object.fromEntries(bankAccesses(tile, fragment, unpadded).map((a) => [a.name, a.worst]));
  console.log(`  unpadded ${tileKey(tile)}: ${JSON.stringify(worst)}`);
  assert.is(worst['left fragment load'], 8);
  assert.is(worst['right fragment load'], 8);
  assert.ok(worst['result store (stmatrix-style)'] > 2);
  const padded = Object.fromEntries(bankAccesses(tile, fragment).map((a) => [a.name, a.worst]));
  assert.is(padded['left fragment load'], 1);
  assert.is(padded['right fragment load'], 1);
});

test('the counting itself, on patterns with known answers', () => {
  const lanes = (byte: (l: number) => number, bytes = 4) => ({ lanes: Array.from({ length: 32 }, (_, l) => ({ byte: byte(l), bytes })) });
  assert.equal(wavefrontsPerPhase(lanes((l) => 4 * l)), [1]);
  assert.equal(wavefrontsPerPhase(lanes(() => 64)), [1], 'one word: a broadcast');
  assert.equal(wavefrontsPerPhase(lanes((l) => 128 * l)), [32], 'a stride of 32 floats: one bank');
  assert.equal(wavefrontsPerPhase(lanes((l) => 8 * l)), [2], 'a stride of 2 floats: 16 banks');
  assert.equal(wavefrontsPerPhase(lanes((l) => 2 * l, 2)), [1], 'halves: two lanes per word');
  assert.equal(wavefrontsPerPhase(lanes((l) => 16 * l, 16)), [1, 1, 1, 1], 'vec4: quarter-subgroup phases');
  assert.equal(wavefrontsPerPhase(lanes((l) => 32 * l, 16)), [2, 2, 2, 2]);
  assert.equal(wavefrontsPerPhase(lanes((l) => 8 * l, 8)), [1, 1], 'vec2: half-subgroup phases');
  const rows = (stride: number) => ({ rows: Array.from({ length: 16 }, (_, r) => r * stride), rowBytes: 32 });
  assert.equal(wavefrontsPerPhase(rows(128)), [8, 8, 8, 8], 'ldmatrix, 128-byte rows');
  assert.equal(wavefrontsPerPhase(rows(144)), [1, 1, 1, 1], 'ldmatrix, 144-byte rows');
  assert.equal(wavefrontsPerPhase(rows(96)), [2, 2, 2, 2], 'ldmatrix, 96-byte rows');
});

test('the fma kernel: the A commit conflicts as the stride and the run predict', () => {
  const tile: GemmTile = { backend: 'fma', bp: 128, bc: 4, bk: 16, tp: 4, tc: 4, splitK: 1 };
  const layout = tileLayout(tile, fragment);
  const commit = (l: typeof layout) => bankAccesses(tile, fragment, l).find((a) => a.name === 'A commit')!.worst;
  assert.is(layout.aStride, 132);
  assert.is(commit(layout), 1);
  assert.is(commit({ ...layout, aStride: 128 }), 2, '16 pixels x 2 quads, quads 4 rows (512 floats) apart: the same banks');
  assert.is(commit({ ...layout, aStride: 128, aRun: 1 }), 1, '32 pixels of one quad: 32 banks');
  assert.is(commit({ ...layout, aStride: 128, aRun: 4 }), 4);
  assert.is(commit({ ...layout, aRun: 4 }), 2);
});

test.run();
