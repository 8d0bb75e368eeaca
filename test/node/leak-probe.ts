// The `rcae score` half of serve/leak.test.ts, run in a process of its own (node --expose-gc): the
// library loop under `rcae score` (scoreInputs with the score's measure) over IMAGES samples, 100 per
// run, each run over image files, an archive's members and a .npy's rows, memory sampled after
// every run. Prints {"samples": [...]} as its last line.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scoreMeasure } from '../../src/detect/scores.js';
import { loadModel } from '../../src/model.js';
import { writeNpy } from '../../src/node/npy-file.js';
import { scoreInputs } from '../../src/node/score-stream.js';
import { tarOf } from '../hostile/build.js';
import { sampleEvery } from '../helpers/leak.js';
import { tempDir } from '../helpers/paths.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { distinctPngs } from '../serve/support.js';

export const IMAGES = Number(process.env.RCAE_LEAK_IMAGES ?? 5000);
/** Samples per run of scoreInputs, and so between two samples of memory. */
export const PER_RUN = 100;

async function main(): Promise<void> {
  const dir = tempDir('rcae-leak-');
  const model = await loadModel(await writeTinyModel(dir));
  try {
    const { inChannels, imageSize } = model.arch;
    const pngs = await distinctPngs(80);
    mkdirSync(join(dir, 'files'));
    pngs.slice(0, 40).forEach((png, i) => writeFileSync(join(dir, 'files', `f${String(i).padStart(2, '0')}.png`), png));
    writeFileSync(join(dir, 'members.tar'), tarOf(pngs.slice(40).map((data, i) => ({ name: `m${i}.png`, data }))));
    const per = inChannels * imageSize * imageSize;
    writeNpy(join(dir, 'rows.npy'), Float32Array.from({ length: 20 * per }, (_, i) => Math.sin(i) * 0.9), [20, inChannels, imageSize, imageSize]);
    const inputs = [join(dir, 'files'), join(dir, 'members.tar'), join(dir, 'rows.npy')];
    const measure = scoreMeasure(model, ['mse']);
    const run = async () => {
      let scored = 0;
      for await (const batch of scoreInputs(model, inputs, { batch: 8, measure })) scored += batch.inputs.length;
      if (scored !== PER_RUN) throw new Error(`a run scored ${scored} samples, not ${PER_RUN}`);
    };
    // Warm-up: every batch size the runs use is bound once, and the allocators settle.
    for (let i = 0; i < 3; i++) await run();
    const samples = await sampleEvery(IMAGES, PER_RUN, run, () => ({ gpuBuffers: model.gpu.liveBuffers }));
    process.stdout.write(`${JSON.stringify({ samples })}\n`);
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
