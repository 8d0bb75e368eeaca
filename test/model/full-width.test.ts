// The reference at full width (w=64, 34,849,667 parameters): a published-style checkpoint written by
// tools/make_fixtures.py with PyTorch, loaded and run through the library API. Needs python3-torch to
// make the checkpoint (never at run time), so it skips, saying why, where torch is absent.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpy } from '../../src/io/npy.js';
import { loadModel } from '../../src/model.js';
import { testGpu } from '../helpers/gpu.js';
import { repoRoot } from '../helpers/paths.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv as env, torchMissing } from '../helpers/torch.js';

const dir = join(repoRoot, '.cache', 'full-width');

requires(test, torchMissing, { ci: true })('full width: 34,849,667 parameters and PyTorch parity on a published-style checkpoint', async () => {
  if (!existsSync(join(dir, 'manifest.json'))) {
    const made = spawnSync(python, [join(repoRoot, 'tools', 'make_fixtures.py'), '--full-width', dir], { env, encoding: 'utf8' });
    assert.is(made.status, 0, made.stderr);
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.is(manifest.parameterCount, 34_849_667);
  const gpu = await testGpu();
  const model = await loadModel(join(dir, 'model-published.ckpt'), { gpu });
  try {
    assert.is(model.parameterCount, 34_849_667);
    assert.is(model.arch.baseWidth, 64);
    const input = readNpy(join(dir, 'input-random.npy'));
    const { reconstruction, error } = await model.reconstructWithError(input.data);
    const latent = await model.encode(input.data);
    const check = (name: string, got: Float32Array, file: string, relative = false) => {
      const want = readNpy(join(dir, file)).data;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (relative ? Math.abs(want[i]) : 1));
      console.log(`  w=64 ${name}: max ${relative ? 'relative' : 'abs'} error ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `${name}: ${worst}`);
    };
    check('reconstruction', reconstruction, 'recon-random.npy');
    check('latent', latent, 'latent-random.npy');
    check('per-sample MSE', error, 'mse-random.npy', true);
  } finally {
    model.dispose();
  }
});

test.run();
