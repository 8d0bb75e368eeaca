// The committed model fixtures (tools/make_fixtures.py) against the canonical architecture, and the
// PyTorch reference in tools/rcae_model.py against parameterList() when torch is installed.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parameterCount, parameterList, referenceArchitecture, validateArchitecture } from '../../src/graph/architecture.js';
import { readNpy } from '../../src/io/npy.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';
import { fixturePath, readJson, repoRoot } from './fixtures.js';

const test = suite('model fixtures');

interface Manifest {
  parameterCount: number;
  arch: string;
  checkpoints: Record<string, string>;
  cases: { input: string; recon: string; latent: string; mse: string; batch: number }[];
}

test('every fixture set is consistent with its arch.json', () => {
  for (const set of ['w8', 'w4']) {
    const dir = fixturePath('model', set);
    const manifest = readJson<Manifest>(join(dir, 'manifest.json'));
    const arch = validateArchitecture(readJson(join(dir, manifest.arch)), `${set}/arch.json`);
    assert.is(parameterCount(arch), manifest.parameterCount, set);
    for (const file of Object.values(manifest.checkpoints)) assert.ok(existsSync(join(dir, file)), `${set}/${file}`);
    for (const c of manifest.cases) {
      const input = readNpy(join(dir, c.input));
      const recon = readNpy(join(dir, c.recon));
      const latent = readNpy(join(dir, c.latent));
      const mse = readNpy(join(dir, c.mse));
      const image = [c.batch, arch.inChannels, arch.imageSize, arch.imageSize];
      assert.equal(input.shape, image, c.input);
      assert.equal(recon.shape, image, c.recon);
      assert.equal(latent.shape, [c.batch, arch.latentDim], c.latent);
      assert.equal(mse.shape, [c.batch], c.mse);
      assert.ok(input.data.every((v) => v >= -1 && v <= 1), `${c.input} lies in [-1, 1]`);
      assert.ok(recon.data.every((v) => v > -1 && v < 1), `${c.recon} is a tanh output`);
      // The stored MSE must be the mean squared difference of the stored tensors (to float32 rounding).
      const per = recon.data.length / c.batch;
      for (let n = 0; n < c.batch; n++) {
        let sum = 0;
        for (let i = n * per; i < (n + 1) * per; i++) sum += (recon.data[i] - input.data[i]) ** 2;
        assert.ok(Math.abs(sum / per - mse.data[n]) < 1e-5 * mse.data[n], `${c.mse}[${n}]`);
      }
    }
  }
});

function runPython(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(python, args, { cwd: repoRoot, env: pythonEnv, encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? String(r.error ?? '') };
}

requires(test, torchMissing, { ci: true })('tools/rcae_model.py registers exactly the canonical tensors and counts 34,849,667 at w=64', () => {
  const script = [
    'import json, sys',
    "sys.path.insert(0, 'tools')",
    'import rcae_model as rm',
    'out = {}',
    "for w, placement in [(8, 'reference'), (4, 'enc4-res'), (16, 'reference')]:",
    '    sd = rm.build_model(rm.reference_arch(w, placement)).state_dict()',
    "    out[f'{w}-{placement}'] = [[k, list(v.shape)] for k, v in sd.items()]",
    "counts = [rm.parameter_count(rm.build_model(rm.reference_arch(64, 'enc4-res')))]",
    'print(json.dumps({"lists": out, "counts": counts}))',
  ].join('\n');
  const r = runPython(['-c', script]);
  assert.ok(r.ok, r.err);
  const { lists, counts } = JSON.parse(r.out) as { lists: Record<string, [string, number[]][]>; counts: number[] };
  for (const [key, got] of Object.entries(lists)) {
    const [w, placement] = key.split(/-(.*)/s) as [string, 'reference' | 'enc4-res'];
    const want = parameterList(referenceArchitecture(Number(w), placement)).map((p) => [p.name, p.shape]);
    assert.equal(got, want, key);
  }
  assert.equal(counts, [34_849_667], 'enc4-res at w=64');
  const count = runPython(['tools/rcae_model.py', '--count', '64']);
  assert.ok(count.ok, count.err);
  assert.is(Number(count.out.trim()), 34_849_667, 'the --count command line');
});

test.run();
