import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { measureErrorSets, type ErrorSetRequest } from '../../detect/error-sets.js';
import { histogramSvg, renderPng } from '../../detect/plots.js';
import { parseSynthetic, SYNTHETIC_DESCRIPTIONS, SYNTHETIC_KINDS, SyntheticError } from '../../detect/synthetic.js';
import { calibrateThresholds, LEVELS, thresholdsDocument, writeThresholds } from '../../detect/thresholds.js';
import { gpuOptions, intOption, parse, required, UsageError, type Command, type ParsedValues } from '../args.js';
import { rowWriter } from '../format.js';
import { openModel } from '../model-path.js';
import { version } from '../version.js';
import { sha256File } from './convert.js';

/** Options shared by calibrate and eval: where the real and fake errors come from. */
export const errorSetOptions = {
  model: { type: 'string' },
  real: { type: 'string' },
  fake: { type: 'string' },
  synthetic: { type: 'string' },
  seed: { type: 'string' },
  batch: { type: 'string' },
  every: { type: 'string' },
  ...gpuOptions,
} as const;

export const errorSetHelp = `  --model M         checkpoint or safetensors; default: the bundled model
  --real SRC        real images: an image, a directory (recursive), a .tar/.tar.gz archive, or a .npy tensor
  --fake SRC        fake images, as for --real
  --synthetic K[:N] make N fakes instead (default N: as many as the real set), K one of:
${SYNTHETIC_KINDS.map((k) => `                      ${k.padEnd(14)}${SYNTHETIC_DESCRIPTIONS[k]}`).join('\n')}
                    all but noise start from the first N images of --real
  --seed S          seed of the synthetic fakes (default 0)
  --every K         use every K-th image of --real and --fake, in input order (e.g. a 1-in-5 subset of a
                    class-sorted archive keeps every class; default 1: all)
  --batch N         samples per GPU batch (default 32)
  --adapter A       GPU adapter index or name substring (also RCAE_ADAPTER)`;

export function errorSetRequest(values: ParsedValues<typeof errorSetOptions>, fakeRequired: boolean): ErrorSetRequest {
  const real = required(values.real, 'real');
  if (values.fake !== undefined && values.synthetic !== undefined) throw new UsageError('give --fake or --synthetic, not both');
  if (fakeRequired && values.fake === undefined && values.synthetic === undefined) throw new UsageError('--fake SRC or --synthetic KIND[:N] is required');
  let synthetic;
  try {
    synthetic = values.synthetic === undefined ? undefined : parseSynthetic(values.synthetic);
  } catch (err) {
    if (err instanceof SyntheticError) throw new UsageError(`--synthetic: ${err.message}`);
    throw err;
  }
  if (synthetic && synthetic.kind !== 'noise' && /\.npy$/i.test(real)) throw new UsageError(`--synthetic ${synthetic.kind} changes images; --real ${real} is a tensor`);
  return { real, fake: values.fake, synthetic, seed: intOption(values.seed, 'seed', 0, 0), batch: intOption(values.batch, 'batch', 32), every: intOption(values.every, 'every', 1) };
}

/** Fails before hours of scoring, not after, when an output cannot be written. */
export function requireOutputDirectory(path: string, option: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir)) throw new UsageError(`--${option}: directory ${dir} does not exist`);
}

const percent = (v: number | undefined) => (v === undefined ? '-' : `${(100 * v).toFixed(2)}%`);

export const calibrate: Command = {
  name: 'calibrate',
  summary: 'choose detection thresholds from the errors of real (and fake) images',
  help: `Usage: rcae calibrate [--model M] --real SRC [--fake SRC | --synthetic KIND[:N]] -o T.json [--plot calib.png]

Scores the real set (and the fake set), then writes thresholds in the published layout
(reconstruction_thresholds.thresholds.LEVEL.value) with each level's measured TPR and FPR, the error
statistics of both sets, the definitions used, and provenance (model SHA-256, sources, date):
  strict     99th percentile of the real errors (1% of real flagged)
  balanced   95th percentile (5%)
  sensitive  95.5th percentile (4.5%)
  optimal    (needs fakes) midpoint of the gap when fakes all score above reals, else maximum Youden J
Percentiles interpolate linearly between ranks, like numpy's default. An input is FAKE when its error
is above the threshold. Without fakes only the percentile levels are written, with no TPR.

Options:
  -o, --out T.json  output thresholds file (written completely or not at all)
  --plot FILE.png   also draw the two error histograms with the thresholds
${errorSetHelp}`,
  async run(argv) {
    const { values } = parse(argv, { ...errorSetOptions, out: { type: 'string', short: 'o' }, plot: { type: 'string' } }, 'calibrate');
    const out = required(values.out, 'out (-o)');
    const request = errorSetRequest(values, false);
    requireOutputDirectory(out, 'out');
    if (values.plot) requireOutputDirectory(values.plot, 'plot');
    const model = await openModel(values.model, values.adapter);
    let sets;
    try {
      sets = await measureErrorSets(model, request);
    } finally {
      model.dispose();
    }
    const calibration = calibrateThresholds(sets.real, sets.fake);
    const doc = thresholdsDocument(calibration, {
      model: { file: basename(model.weights.path), sha256: await sha256File(model.weights.path), format: model.weights.format },
      imageSize: model.arch.imageSize,
      realSource: sets.realSource,
      fakeSource: sets.fakeSource,
      created: new Date().toISOString(),
      tool: `rcae ${version()}`,
    });
    await writeThresholds(out, doc);
    if (values.plot) {
      const thresholds = LEVELS.flatMap((name) => (calibration.levels[name] ? [{ label: name, value: calibration.levels[name]!.value }] : []));
      await renderPng(histogramSvg(sets.real, sets.fake, { thresholds, title: 'Calibration: reconstruction error of real and fake images' }), values.plot);
    }
    const rows = rowWriter('table', ['level', 'threshold', 'FPR', 'TPR', 'rule'], (text) => process.stdout.write(text));
    for (const name of LEVELS) {
      const level = calibration.levels[name];
      if (!level) continue;
      const rule = level.percentile !== undefined ? `${level.percentile}th percentile of real` : level.method;
      rows.write({ level: name, threshold: level.value, FPR: percent(level.fpr), TPR: percent(level.tpr), rule });
    }
    rows.end();
    const { real, fake } = calibration;
    const stats = `real ${real.count}: mean ${real.mean.toPrecision(4)} median ${real.median.toPrecision(4)}` +
      (fake ? `; fake ${fake.count}: mean ${fake.mean.toPrecision(4)} median ${fake.median.toPrecision(4)}; ratio of means ${(fake.mean / real.mean).toFixed(2)}x` : '');
    process.stderr.write(`${stats}\nwrote ${out}${values.plot ? ` and ${values.plot}` : ''}\n`);
  },
};
