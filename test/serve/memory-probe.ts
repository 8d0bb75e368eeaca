// The measurements of memory.test.ts, run in a process of their own (node --expose-gc): RSS in a
// process that has already run the rest of the suite moves by tens of MiB with the native
// allocators' state, which no bound on this model's own growth can tell from a leak. Prints one JSON
// line per measurement: live GPU buffers before and after, RSS growth after half and all of RUNS.
import { loadImageTensor } from '../../src/image/preprocess.js';
import { loadModel } from '../../src/model.js';
import { DEFAULT_MODEL_PATH } from '../../src/node/platform.js';
import { distinctPngs, postImage, startTestService } from './support.js';

const RUNS = 2000; // as in memory.test.ts
const WARM_UP = 200;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const rss = () => {
  gc();
  return process.memoryUsage().rss;
};

export interface Measurement {
  what: 'model' | 'service';
  buffersBefore: number;
  buffersAfter: number;
  /** RSS growth from the warmed-up level after RUNS / 2 and after RUNS, in bytes. */
  half: number;
  whole: number;
}

async function measureModel(): Promise<Measurement> {
  const model = await loadModel(DEFAULT_MODEL_PATH);
  try {
    const inputs = await Promise.all((await distinctPngs(8)).map((png) => loadImageTensor(png)));
    for (let i = 0; i < WARM_UP; i++) await model.reconstructionError(inputs[i % inputs.length]);
    const buffersBefore = model.gpu.liveBuffers;
    const start = rss();
    for (let i = 0; i < RUNS / 2; i++) await model.reconstructionError(inputs[i % inputs.length]);
    const half = rss() - start;
    for (let i = 0; i < RUNS / 2; i++) await model.reconstructionError(inputs[i % inputs.length]);
    return { what: 'model', buffersBefore, buffersAfter: model.gpu.liveBuffers, half, whole: rss() - start };
  } finally {
    model.dispose();
  }
}

async function measureService(): Promise<Measurement> {
  const service = await startTestService();
  try {
    const pngs = await distinctPngs(8);
    const send = async (count: number) => {
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < count) {
          const png = pngs[next++ % pngs.length];
          const res = await postImage(service.url, png);
          if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.json)}`);
        }
      }));
    };
    await send(WARM_UP);
    // With 8 requests in flight a pass holds 1-8 samples, cut into powers of two: binding each size
    // once here fixes the set of activation buffers, however the requests happened to group so far.
    for (const n of [1, 2, 4, 8]) await service.holder.score(new Float32Array(n * 3 * 128 * 128), n, false);
    const buffersBefore = service.holder.model.gpu.liveBuffers;
    const start = rss();
    await send(RUNS / 2);
    const half = rss() - start;
    await send(RUNS / 2);
    return { what: 'service', buffersBefore, buffersAfter: service.holder.model.gpu.liveBuffers, half, whole: rss() - start };
  } finally {
    await service.stop();
  }
}

const which = process.argv[2];
const result = which === 'model' ? await measureModel() : which === 'service' ? await measureService() : undefined;
if (!result) throw new Error('usage: memory-probe.js model|service');
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
