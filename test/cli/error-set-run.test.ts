// The run steps calibrate and eval share: the sets measured with the fit made on the open model, and
// the model freed however measuring ends.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { measureWithModel } from '../../src/cli/error-set-options.js';
import type { Model } from '../../src/model.js';
import { fixture } from '../helpers/paths.js';

const dir = fixture('model', 'w8');
const values = { model: join(dir, 'model-published.ckpt') };
/** The message `promise` rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable('should have been rejected');
  return '';
}

const request = (real: string) => ({ real, fake: join(dir, 'input-random.npy'), seed: 0, batch: 3, every: 1, start: 0 });

test('measures both sets for the columns, with the model the fit was made on, then frees it', async () => {
  let seen: Model | undefined;
  const { model, sets } = await measureWithModel(values, request(join(dir, 'input-cifar.npy')), ['mse', 'hf'], (open) => {
    seen = open;
    return undefined;
  });
  assert.ok(seen === model);
  assert.equal(Object.keys(sets.real).sort(), ['hf', 'mse']);
  assert.is(sets.real.mse.length, 4);
  assert.ok(sets.fake !== undefined && sets.fake.hf.length === sets.fake.mse.length);
  assert.match(await rejection(model.reconstruct(new Float32Array(model.imageSize))), /already destroyed/);
});

test('a failure while measuring still frees the model', async () => {
  let seen: Model | undefined;
  const failed = measureWithModel(values, request(join(dir, 'missing.npy')), ['mse'], (open) => {
    seen = open;
    return undefined;
  });
  assert.match(await rejection(failed), /missing\.npy/);
  assert.match(await rejection(seen!.reconstruct(new Float32Array(seen!.imageSize))), /already destroyed/);
});

test.run();
