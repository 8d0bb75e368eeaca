// Asserts that a promise rejects with a SyntheticError whose message matches.
import * as assert from 'uvu/assert';
import { SyntheticError } from '../../src/detect/synthetic.js';

export async function rejectsSynthetic(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SyntheticError && message.test((err as Error).message), (err as Error).message);
    return;
  }
  assert.unreachable(`expected a rejection matching ${message}`);
}
