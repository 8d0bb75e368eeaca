// reconstruct and embed: INPUT samples in, one .npy tensor out.

import { writeFileSync } from 'node:fs';
import { MAP_SCORES } from '../../image/anomaly-maps.js';
import { comparisonGrid, comparisonGridPng } from '../../image/comparison-grid.js';
import { encodeNpy } from '../../io/npy.js';
import { withOutputSet } from '../../node/atomic.js';
import { mapsDirectory, mapsHelp, stageMaps } from '../maps-option.js';
import { checkOutputPaths } from '../outputs.js';
import type { Model } from '../../model.js';
import { gpuOptions, gpuOptionsHelp, intOption, parse, required, UsageError, type Command } from '../args.js';
import { countSamples, gatherSources } from '../../node/input-reader.js';
import { sampleBatches, type SampleBatch } from '../../node/input-batches.js';
import { openModel } from '../model-path.js';
import { progressBar } from '../../node/progress.js';
import { concatFloat32 } from '../../io/concat.js';

const inputHelp = `INPUT: .npy float32 [N,3,128,128] normalised to [-1,1], image files, directories, or .tar/.tar.gz
archives of images (preprocessed like torchvision Resize((128,128)) + ToTensor + Normalize(0.5,0.5));
- reads one image or .npy from standard input.`;

const GRID_MAX = 12;

/** Runs every input through `run`; keeps the first `keepInputs` samples' inputs (for the grid). */
async function collect(model: Model, args: string[], batch: number, every: number, label: string, run: (batch: SampleBatch) => Promise<Float32Array>, keepInputs = 0) {
  const sources = gatherSources(args, { stdin: true });
  const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
  const total = countSamples(sources);
  const progress = progressBar(label, total === undefined ? undefined : Math.ceil(total / every));
  const parts: Float32Array[] = [];
  const inputs: Float32Array[] = [];
  let count = 0;
  try {
    for await (const b of sampleBatches(sources, shape, batch, every)) {
      if (count < keepInputs) inputs.push(b.data.slice(0, (keepInputs - count) * model.imageSize));
      parts.push(await run(b));
      count += b.inputs.length;
      progress.update(count);
    }
  } finally {
    progress.finish();
  }
  return { count, data: concatFloat32(parts), inputs: concatFloat32(inputs) };
}

function tensorCommand(name: 'reconstruct' | 'embed'): Command {
  const embed = name === 'embed';
  return {
    name,
    summary: embed ? 'latent vectors [N,512] of the inputs, as .npy' : 'reconstructions [N,3,128,128] of the inputs, as .npy',
    help: `Usage: rcae ${name} [--model M] [--batch N] INPUT... --out ${embed ? 'Z' : 'R'}.npy${embed ? '' : ' [--grid G.png] [--maps DIR]'}

Writes ${embed ? 'the latent vectors, float32 [N,latentDim]' : 'the reconstructions, float32 [N,3,128,128] in [-1,1]'} to the .npy file
(written completely or not at all).
${inputHelp}

Options:
  --model M     checkpoint (.ckpt/.pt/.pth) or safetensors; default: the bundled model
  -o, --out F   output .npy${embed ? ' (required)' : ''}${embed ? '' : `
  --grid PNG    also (or only) draw the first ${GRID_MAX} inputs over their reconstructions, with a heat
                map of the per-pixel squared error below (brighter = larger)
${mapsHelp(16)}`}
  --every K     use every K-th input only, in input order (default 1: all)
  --batch N     samples per GPU batch (default 32)
${gpuOptionsHelp}`,
    async run(argv) {
      const { values, positionals } = parse(argv, { model: { type: 'string' }, out: { type: 'string', short: 'o' }, grid: { type: 'string' }, maps: { type: 'string' }, batch: { type: 'string' }, every: { type: 'string' }, ...gpuOptions }, name);
      const grid = embed ? undefined : values.grid;
      if (embed && (values.grid || values.maps)) throw new UsageError('--grid and --maps go with reconstruct');
      const maps = mapsDirectory(values.maps);
      const out = (grid || maps) && !values.out ? undefined : required(values.out, 'out');
      if (out && !out.endsWith('.npy')) throw new UsageError(`--out must name a .npy file, got '${out}'`);
      if (grid && !grid.endsWith('.png')) throw new UsageError(`--grid must name a .png file, got '${grid}'`);
      const batch = intOption(values.batch, 'batch', 32);
      const every = intOption(values.every, 'every', 1);
      checkOutputPaths([...(out ? [{ path: out, option: 'out' }] : []), ...(grid ? [{ path: grid, option: 'grid' }] : [])], [...positionals, ...(values.model ? [values.model] : [])]);
      const model = await openModel(values);
      try {
        const channels = model.arch.inChannels;
        const size = model.arch.imageSize;
        // Every output (the .npy, the grid, the maps) appears together or not at all.
        const { count, shape, picture } = await withOutputSet(async (outputs) => {
          let offset = 0;
          const reconstructWithMaps = async (b: SampleBatch) => {
            const r = await model.reconstruct(b.data);
            if (maps) await stageMaps(outputs, maps, { offset, images: b.data, reconstructions: r, sizes: b.sizes }, channels, size);
            offset += b.inputs.length;
            return r;
          };
          const { count, data, inputs } = await collect(model, positionals, batch, every, name, (b) => (embed ? model.encode(b.data) : reconstructWithMaps(b)), grid ? GRID_MAX : 0);
          const shape = embed ? [count, model.latentSize] : [count, channels, size, size];
          const shown = Math.min(count, GRID_MAX);
          const picture = grid ? comparisonGrid(inputs, data.subarray(0, shown * model.imageSize), shown, channels, size) : undefined;
          if (out) await outputs.stage(out, (tmp) => writeFileSync(tmp, encodeNpy(data, shape)));
          if (grid && picture) await outputs.stage(grid, (tmp) => comparisonGridPng(tmp, picture));
          return { count, shape, picture };
        });
        if (out) process.stderr.write(`wrote ${out} [${shape.join(',')}]\n`);
        if (grid && picture) process.stderr.write(`wrote ${grid}: ${Math.min(count, GRID_MAX)} inputs over their reconstructions; heat map scaled to squared error ${picture.errorScale.toPrecision(3)}\n`);
        if (maps) process.stderr.write(`wrote ${count} x ${MAP_SCORES.length} anomaly maps into ${maps}\n`);
      } finally {
        model.dispose();
      }
    },
  };
}

export const reconstruct = tensorCommand('reconstruct');
export const embed = tensorCommand('embed');
