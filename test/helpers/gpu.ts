// One GPU device shared by every test file in a run; test/run.ts closes it before exiting.
import { Gpu } from '../../src/gpu/device.js';
import '../../src/node/node-platform.js';

let shared: Promise<Gpu> | undefined;

export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.open();
  return shared;
}

export async function closeTestGpu(): Promise<void> {
  if (!shared) return;
  const gpu = await shared.catch(() => undefined);
  shared = undefined;
  gpu?.destroy();
}
