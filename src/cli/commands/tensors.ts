// reconstruct and embed: INPUT samples in, one .npy tensor out.

import { writeNpy } from '../../io/npy.js';
import type { Model } from '../../model.js';
import { gpuOptions, intOption, parse, required, UsageError, type Command } from '../args.js';
import { countSamples, gatherSources, sampleBatches } from '../../pipeline/inputs.js';
import { openModel } from '../model-path.js';
import { progressBar } from '../../pipeline/progress.js';

const inputHelp = `INPUT: .npy float32 [N,3,128,128] normalised to [-1,1], image files, directories, or .tar/.tar.gz
archives of images (preprocessed like torchvision Resize((128,128)) + ToTensor + Normalize(0.5,0.5)).`;

async function collect(model: Model, args: string[], batch: number, label: string, run: (data: Float32Array) => Promise<Float32Array>) {
  const sources = gatherSources(args);
  const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
  const progress = progressBar(label, countSamples(sources));
  const parts: Float32Array[] = [];
  let count = 0;
  try {
    for await (const b of sampleBatches(sources, shape, batch)) {
      parts.push(await run(b.data));
      count += b.inputs.length;
      progress.update(count);
    }
  } finally {
    progress.finish();
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { count, data: out };
}

function tensorCommand(name: 'reconstruct' | 'embed'): Command {
  const embed = name === 'embed';
  return {
    name,
    summary: embed ? 'latent vectors [N,512] of the inputs, as .npy' : 'reconstructions [N,3,128,128] of the inputs, as .npy',
    help: `Usage: rcae ${name} [--model M] [--batch N] INPUT... --out ${embed ? 'Z' : 'R'}.npy

Writes ${embed ? 'the latent vectors, float32 [N,latentDim]' : 'the reconstructions, float32 [N,3,128,128] in [-1,1]'} to the .npy file
(written completely or not at all).
${inputHelp}

Options:
  --model M     checkpoint (.ckpt/.pt/.pth) or safetensors; default: the bundled model
  --out FILE    output .npy (required)
  --batch N     samples per GPU batch (default 32)
  --adapter A   GPU adapter index or name substring (also RCAE_ADAPTER)`,
    async run(argv) {
      const { values, positionals } = parse(argv, { model: { type: 'string' }, out: { type: 'string' }, batch: { type: 'string' }, ...gpuOptions }, name);
      const out = required(values.out, 'out');
      if (!out.endsWith('.npy')) throw new UsageError(`--out must name a .npy file, got '${out}'`);
      const batch = intOption(values.batch, 'batch', 32);
      const model = await openModel(values.model, values.adapter);
      try {
        const { count, data } = await collect(model, positionals, batch, name, (d) => (embed ? model.encode(d) : model.reconstruct(d)));
        const shape = embed ? [count, model.latentSize] : [count, model.arch.inChannels, model.arch.imageSize, model.arch.imageSize];
        writeNpy(out, data, shape);
        process.stderr.write(`wrote ${out} [${shape.join(',')}]\n`);
      } finally {
        model.dispose();
      }
    },
  };
}

export const reconstruct = tensorCommand('reconstruct');
export const embed = tensorCommand('embed');
