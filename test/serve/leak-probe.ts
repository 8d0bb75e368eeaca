// The service half of leak.test.ts, run in a process of its own (node --expose-gc): REQUESTS
// requests through a real service on 127.0.0.1, 8 at a time, of the kinds a client sends (a PNG; one
// in ten a two-part multipart batch; one in ten a body that is no image, answered 422), memory
// sampled every SAMPLE_EVERY. Prints {"samples": [...]} as its last line.
import { rmSync } from 'node:fs';
import { loadModel } from '../../src/model.js';
import { sampleEvery } from '../helpers/leak.js';
import { tempDir } from '../helpers/paths.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { bytes, distinctPngs, startTestService } from './support.js';

export const REQUESTS = Number(process.env.RCAE_LEAK_REQUESTS ?? 5000);
export const SAMPLE_EVERY = 100;
const CONCURRENCY = 8;
const WARM_UP = 300;
async function main(): Promise<void> {
  // The service's code is the same whatever the model; a tiny one keeps 5,000 requests within seconds.
  const dir = tempDir('rcae-leak-');
  const model = await writeTinyModel(dir);
  // No log kept: the test service's list of log lines would itself grow ~300 bytes per request.
  const service = await startTestService({ open: () => loadModel(model), log: () => {} });
  try {
    const pngs = await distinctPngs(16);
    const boundary = 'rcae-leak';
    const multipart = (a: Buffer, b: Buffer) => Buffer.concat([a, b].flatMap((data, i) => [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="p${i}.png"\r\n\r\n`), data, Buffer.from('\r\n')]).concat(Buffer.from(`--${boundary}--\r\n`)));
    const request = async (i: number) => {
      const kind = i % 10;
      const res = kind === 3
        ? await fetch(`${service.url}/v1/detect/batch`, { method: 'POST', body: bytes(multipart(pngs[i % 16], pngs[(i + 1) % 16])), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } })
        : await fetch(`${service.url}/v1/detect`, { method: 'POST', body: kind === 7 ? bytes(Buffer.from(`not an image ${i}`)) : bytes(pngs[i % 16]) });
      await res.arrayBuffer();
      const expected = kind === 7 ? 422 : 200;
      if (res.status !== expected) throw new Error(`request ${i}: status ${res.status}, expected ${expected}`);
    };
    const send = async (from: number, count: number) => {
      let next = from;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < from + count) await request(next++);
      }));
    };
    await send(0, WARM_UP);
    // With 8 requests in flight a pass holds 1-9 samples, cut into powers of two: binding each size
    // once here fixes the set of activation buffers, however the requests happened to group so far.
    const { inChannels, imageSize } = service.holder.model.arch;
    for (const n of [1, 2, 4, 8]) await service.holder.score(new Float32Array(n * inChannels * imageSize * imageSize), n, false);
    const samples = await sampleEvery(REQUESTS, SAMPLE_EVERY, (from) => send(WARM_UP + from, SAMPLE_EVERY), () => ({ gpuBuffers: service.holder.model.gpu.liveBuffers }));
    process.stdout.write(`${JSON.stringify({ samples })}\n`);
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
