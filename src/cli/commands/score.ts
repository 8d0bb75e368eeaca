import { formatOption, gpuOptions, gpuOptionsHelp, intOption, parse, type Command } from '../args.js';
import { rowWriter } from '../format.js';
import { openModel } from '../model-path.js';
import { scoreInputs } from '../../node/score-stream.js';
import { checkOutputPaths } from '../outputs.js';
import { withTextOutput } from '../sink.js';
import { SCORE_FIELD, scoreMeasure } from '../../detect/scores.js';
import { fitOfThresholds } from '../../detect/thresholds.js';
import { readScoreThresholds, scoreOption, scoreOptionHelp, thresholdsFileFor } from '../score-option.js';

export const score: Command = {
  name: 'score',
  summary: 'per-sample detection score (reconstruction MSE by default) of images or .npy tensors',
  help: `Usage: rcae score [--model M] [--score S] [--format jsonl|csv|table] [--batch N] [-o FILE] INPUT...

Prints one row per sample: {"input": path, "index": i, "error": x} in jsonl, where index counts
samples from 0 across all inputs in order and error is the chosen score (by default the mean squared
error over C*H*W between the normalised input and its reconstruction).

INPUT: image files, directories (searched recursively), .tar/.tar.gz archives of images, or .npy
float32 [N,3,128,128] tensors already normalised to [-1,1]. - reads one image or .npy from
standard input.

Options:
  --model M       checkpoint (.ckpt/.pt/.pth) or safetensors; default: the bundled model
${scoreOptionHelp}
  --thresholds T  atypical only: the thresholds file holding the fit (default: beside --model, or bundled)
  --format F      jsonl (default when stdout is not a terminal), csv, or table (default on a terminal)
  --json          the same as --format jsonl
  --every K       score every K-th input only, in input order (default 1: all)
  --batch N       samples per GPU batch (default 32)
  -o, --out FILE  write rows to FILE (atomically) instead of stdout
${gpuOptionsHelp}`,
  async run(argv) {
    const { values, positionals } = parse(argv, { model: { type: 'string' }, score: { type: 'string' }, thresholds: { type: 'string' }, format: { type: 'string' }, batch: { type: 'string' }, every: { type: 'string' }, out: { type: 'string', short: 'o' }, json: { type: 'boolean' }, ...gpuOptions }, 'score');
    const score = scoreOption(values.score);
    const fitFile = score === 'atypical' ? thresholdsFileFor(values.thresholds, values.model, score) : undefined;
    const fitDoc = fitFile ? readScoreThresholds(fitFile, score) : undefined;
    const format = formatOption(values.format, process.stdout.isTTY && !values.out ? 'table' : 'jsonl', values.json);
    const batch = intOption(values.batch, 'batch', 32);
    const every = intOption(values.every, 'every', 1);
    checkOutputPaths(values.out ? [{ path: values.out, option: 'out' }] : [], [...positionals, ...(values.model ? [values.model] : [])]);
    const model = await openModel(values);
    try {
      const fit = fitDoc ? fitOfThresholds(fitDoc, fitFile!, model.latentSize) : undefined;
      const measure = scoreMeasure(model, [score], fit);
      await withTextOutput(values.out, async (out) => {
        const rows = rowWriter(format, ['input', 'index', SCORE_FIELD], out);
        for await (const b of scoreInputs(model, positionals, { batch, every, measure })) {
          b.inputs.forEach((input, i) => rows.write({ input, index: b.offset + i, [SCORE_FIELD]: b.measured[score][i] }));
        }
        rows.end();
      });
    } finally {
      model.dispose();
    }
  },
};
