import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parameterCount, parameterList, referenceArchitecture, validateArchitecture } from '../../src/graph/architecture.js';
import { assignSlots, buildPlan, nodeFlops, nodeInputs, planFlops, valueSize, type Plan } from '../../src/graph/plan.js';

test('reference architecture at w=64 has the published parameter count in both placements', () => {
  for (const placement of ['reference', 'enc4-res'] as const) {
    const arch = referenceArchitecture(64, placement);
    assert.is(parameterCount(arch), 34_849_667, placement);
    const list = parameterList(arch);
    assert.is(list.filter((p) => !p.role.startsWith('bn.running') && p.role !== 'bn.num_batches_tracked').length, 106);
    assert.is(list.length - 106, 75);
  }
});

test('forward FLOPs match the architecture note, per stage and in total', () => {
  const plan = buildPlan(referenceArchitecture(64));
  assert.ok(Math.abs(planFlops(plan) / 1e9 - 6.778) < 0.001, `total ${planFlops(plan) / 1e9}`);
  const stage = (prefix: string) => plan.nodes.filter((n) => n.name.startsWith(prefix)).reduce((s, n) => s + nodeFlops(plan, n), 0) / 1e9;
  const expected: Record<string, number> = { 'encoder.0': 0.629, 'encoder.1': 0.872, 'encoder.3': 0.872, 'encoder.4': 0.134, 'decoder.0': 0.738, 'decoder.2': 0.872, 'decoder.4': 0.025 };
  for (const [prefix, gflop] of Object.entries(expected)) assert.ok(Math.abs(stage(prefix) - gflop) < 0.001, `${prefix}: ${stage(prefix)} vs ${gflop}`);
  const fc = stage('fc_');
  assert.ok(Math.abs(fc - 0.017) < 0.001, `fc ${fc}`);
});

test('shapes: 128x128 image to a 512 latent and back', () => {
  const plan = buildPlan(referenceArchitecture(64));
  assert.equal(plan.values[plan.io.image].shape, [3, 128, 128]);
  assert.equal(plan.values[plan.io.latent].shape, [512, 1, 1]);
  assert.equal(plan.values[plan.io.reconstruction].shape, [3, 128, 128]);
  const last = plan.nodes[plan.statsStart - 1];
  assert.is(last.kind === 'conv' && last.activation, 'tanh');
});

function checkSlots(plan: Plan, start: number, end: number) {
  const nodes = plan.nodes.slice(start, end);
  const pinned = new Set([plan.io.image, plan.io.latent, plan.io.reconstruction, plan.io.mse, plan.io.hf, plan.io.ssim]);
  const { slotOf, slotSizes } = assignSlots(plan, nodes, pinned);
  // A value lives from the node that writes it (or the start, for graph inputs) to its last reader.
  const born = new Map<number, number>();
  const dies = new Map<number, number>();
  nodes.forEach((n, i) => {
    born.set(n.output, i);
    dies.set(n.output, Math.max(dies.get(n.output) ?? i, i));
    for (const v of nodeInputs(n)) {
      if (!born.has(v)) born.set(v, -1);
      dies.set(v, i);
    }
  });
  for (const v of pinned) if (slotOf.has(v)) { born.set(v, -1); dies.set(v, nodes.length); }
  const vs = [...slotOf.keys()];
  for (const a of vs) {
    assert.ok(slotSizes[slotOf.get(a)!] >= valueSize(plan.values[a]), `slot too small for ${plan.values[a].name}`);
    for (const b of vs) {
      if (a >= b || slotOf.get(a) !== slotOf.get(b)) continue;
      const overlap = born.get(a)! <= dies.get(b)! && born.get(b)! <= dies.get(a)!;
      assert.not.ok(overlap, `${plan.values[a].name} and ${plan.values[b].name} share a slot while both live`);
    }
  }
  return slotSizes.reduce((s, x) => s + x, 0);
}

test('buffer reuse: no two live values share a buffer, and memory stays near the largest tensors', () => {
  for (const w of [3, 8, 64]) {
    for (const placement of ['reference', 'enc4-res'] as const) {
      const plan = buildPlan(referenceArchitecture(w, placement));
      const total = checkSlots(plan, 0, plan.nodes.length);
      checkSlots(plan, 0, plan.decodeStart);
      checkSlots(plan, plan.decodeStart, plan.statsStart);
      const endpoints = [plan.io.image, plan.io.reconstruction, plan.io.latent, plan.io.mse, plan.io.hf, plan.io.ssim];
      const pinnedSize = endpoints.reduce((s, v) => s + valueSize(plan.values[v]), 0);
      const largest = Math.max(...plan.values.filter((v) => !endpoints.includes(v.id)).map(valueSize));
      // A residual block holds three maps at once (block input, conv1 output, block output).
      assert.ok(total <= pinnedSize + 3 * largest + 1024, `w=${w}: ${total} elements per sample vs largest intermediate ${largest}`);
      if (w === 64) {
        const sum = plan.values.reduce((s, v) => s + valueSize(v), 0);
        // The architecture note: about 3 MiB per sample live at once with reuse (11.7 MiB without).
        assert.ok(total * 4 <= 3.5 * 2 ** 20, `w=64: ${(total * 4) / 2 ** 20} MiB per sample`);
        assert.ok(sum * 4 > 11 * 2 ** 20);
      }
    }
  }
});

test('validateArchitecture accepts the reference and names what is wrong otherwise', () => {
  const ok = referenceArchitecture(8);
  assert.equal(validateArchitecture(JSON.parse(JSON.stringify(ok))), ok);
  const bad = (patch: object, pattern: RegExp) => assert.throws(() => validateArchitecture({ ...ok, ...patch }, 'arch.json'), pattern);
  bad({ baseWidth: 0 }, /arch\.json: invalid architecture: baseWidth/);
  bad({ activation: 'gelu' }, /activation/);
  bad({ decoder: ok.decoder.slice(1) }, /stages/);
  bad({ decoder: [...ok.decoder.slice(0, 4), { channels: 4, residualBlocks: 0 }] }, /inChannels/);
  bad({ imageSize: 100 }, /divisible/);
  assert.throws(() => validateArchitecture(null, 'x.json'), /x\.json/);
});

test.run();
