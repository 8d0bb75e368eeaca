import { labelFor } from '../../detect/label.js';
import { printable } from '../../printable.js';
import { SCORE_FIELD, scoreMeasure, type ScoreName } from '../../detect/scores.js';
import { fitOfThresholds, parseLevel, pickThreshold, type PickedThreshold, type ThresholdsDocument } from '../../detect/thresholds.js';
import { formatOption, gpuOptions, gpuOptionsHelp, intOption, parse, UsageError, type Command } from '../args.js';
import { readScoreThresholds, scoreOption, scoreOptionHelp, thresholdsFileFor, warnOnModelMismatch } from '../score-option.js';
import { rowWriter } from '../format.js';
import { openModel } from '../model-path.js';
import { scoreInputs } from '../../node/score-stream.js';
import { checkOutputPaths } from '../outputs.js';
import { withTextOutput } from '../sink.js';
import { MAP_SCORES } from '../../image/anomaly-maps.js';
import { mapsDirectory, mapsHelp, stageMaps } from '../maps-option.js';
import { withOutputSet } from '../../node/atomic.js';

/** Exit status when --fail-on-fake is given and some input is FAKE or INVALID. */
export const EXIT_FAKE_FOUND = 3;

/** The mse thresholds file to use (see thresholdsFileFor); `rcae serve` scores mse. */
export function thresholdsFile(option: string | undefined, model: string | undefined): string {
  return thresholdsFileFor(option, model, 'mse');
}

export interface ChosenThreshold extends PickedThreshold {
  /** The thresholds file it came from, read and checked for the score; absent for a numeric --level. */
  file?: { path: string; doc: ThresholdsDocument };
}

/**
 * The threshold for --level: a number as given, or the level of the score's thresholds file (see
 * thresholdsFileFor). The atypical score always needs its file, for the fit.
 */
export function chooseThreshold(levelOption: string | undefined, thresholds: string | undefined, model: string | undefined, score: ScoreName = 'mse'): ChosenThreshold {
  let level: string | number;
  try {
    level = parseLevel(levelOption ?? 'balanced');
  } catch (err) {
    throw new UsageError(`--level: ${(err as Error).message}`);
  }
  if (typeof level === 'number' && score !== 'atypical') return pickThreshold(undefined, level);
  const path = thresholdsFileFor(thresholds, model, score);
  const doc = readScoreThresholds(path, score);
  return { ...pickThreshold(doc, level, path), file: { path, doc } };
}

export const detect: Command = {
  name: 'detect',
  summary: 'label inputs REAL or FAKE by comparing their detection score with a threshold',
  help: `Usage: rcae detect [--model M] [--score S] [--thresholds T.json] [--level L] [--format table|jsonl|csv] [--maps DIR] INPUT...

For each sample prints its score (column error; by default the reconstruction MSE), the threshold
and the label: FAKE when error > threshold, REAL when error <= threshold, and INVALID when the error
is not a finite number (NaN or Inf in the input or the model; never REAL). jsonl rows are
  {"input": path, "index": i, "error": x, "threshold": t, "label": "REAL"|"FAKE"|"INVALID"}
with "error": null and a "reason" on INVALID rows. A summary "k of N flagged" (and the INVALID
inputs) goes to stderr. Exit status 0 whatever the labels, unless --fail-on-fake.

INPUT: image files, directories (searched recursively), .tar/.tar.gz archives of images, or .npy
float32 [N,3,128,128] tensors already normalised to [-1,1]. - reads one image or .npy from
standard input.

Options:
  --model M         checkpoint or safetensors; default: the bundled model
${scoreOptionHelp}
  --thresholds T    thresholds JSON (the published layout: reconstruction_thresholds.thresholds.LEVEL.value);
                    default: NAME.thresholds.json (NAME.SCORE.thresholds.json for other scores than mse)
                    beside --model M, or the bundled thresholds of the score. A file made for another
                    score is refused; one made for another model (SHA-256) is used with a warning
  --level L         strict, balanced (default), sensitive, optimal, another level in the file, or a
                    number used as the threshold itself (then no thresholds file is needed)
  --format F        jsonl (default when stdout is not a terminal), csv, or table (default on a terminal)
  --json            the same as --format jsonl
  --fail-on-fake    exit with status ${EXIT_FAKE_FOUND} when any input is FAKE or INVALID
  --every K         label every K-th input only, in input order (default 1: all)
  --batch N         samples per GPU batch (default 32)
  -o, --out FILE    write rows to FILE (atomically) instead of stdout
${mapsHelp(20)}.
${gpuOptionsHelp}`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string' }, score: { type: 'string' }, thresholds: { type: 'string' }, level: { type: 'string' }, format: { type: 'string' },
      'fail-on-fake': { type: 'boolean' }, batch: { type: 'string' }, every: { type: 'string' }, out: { type: 'string', short: 'o' }, json: { type: 'boolean' }, maps: { type: 'string' }, ...gpuOptions,
    }, 'detect');
    const format = formatOption(values.format, process.stdout.isTTY && !values.out ? 'table' : 'jsonl', values.json);
    const batch = intOption(values.batch, 'batch', 32);
    const every = intOption(values.every, 'every', 1);
    const score = scoreOption(values.score);
    const maps = mapsDirectory(values.maps);
    checkOutputPaths(values.out ? [{ path: values.out, option: 'out' }] : [], [...positionals, values.model, values.thresholds].filter((p): p is string => p !== undefined));
    const threshold = chooseThreshold(values.level, values.thresholds, values.model, score);
    const model = await openModel(values);
    let flagged = 0;
    let total = 0;
    const invalid: string[] = [];
    try {
      const file = threshold.file;
      if (file) await warnOnModelMismatch(file.path, file.doc, model);
      const fit = score === 'atypical' ? fitOfThresholds(file!.doc, file!.path, model.latentSize) : undefined;
      // The maps come from the same forward pass as the scores.
      const measure = scoreMeasure(model, [score], fit, maps ? ['reconstruction'] : []);
      // The maps are committed once every row is written, then the rows' file.
      await withTextOutput(values.out, (out) => withOutputSet(async (outputs) => {
        const rows = rowWriter(format, ['input', 'index', SCORE_FIELD, 'threshold', 'label'], out);
        for await (const b of scoreInputs(model, positionals, { batch, every, label: 'detecting', measure })) {
          b.inputs.forEach((input, i) => {
            const error = b.measured[score][i];
            const { label, reason } = labelFor(error, threshold.value);
            if (label === 'FAKE') flagged++;
            if (reason) invalid.push(`${printable(input)}: ${reason}`);
            rows.write({ input, index: b.offset + i, [SCORE_FIELD]: error, threshold: threshold.value, label, ...(reason ? { reason } : {}) });
          });
          if (maps) await stageMaps(outputs, maps, { offset: b.offset, images: b.data, reconstructions: b.measured.reconstruction, sizes: b.sizes }, model.arch.inChannels, model.arch.imageSize);
          total += b.inputs.length;
        }
        rows.end();
      }));
    } finally {
      model.dispose();
    }
    const shown = invalid.slice(0, 10).map((line) => `  ${line}\n`).join('') + (invalid.length > 10 ? `  ... and ${invalid.length - 10} more\n` : '');
    process.stderr.write(`${flagged} of ${total} flagged FAKE (error > ${threshold.value}, level ${threshold.level})` +
      (invalid.length ? `; ${invalid.length} INVALID (error not finite):\n${shown}` : '\n'));
    if (maps) process.stderr.write(`wrote ${total} x ${MAP_SCORES.length} anomaly maps into ${maps}\n`);
    return values['fail-on-fake'] && flagged + invalid.length > 0 ? EXIT_FAKE_FOUND : 0;
  },
};
