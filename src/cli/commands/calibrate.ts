import { basename } from 'node:path';
import { histogramSvg, renderPng } from '../../detect/plots.js';
import { calibrateThresholds, LEVELS, thresholdsDocument } from '../../detect/thresholds.js';
import { writeThresholds } from '../../detect/thresholds-file.js';
import { parse, required, type Command } from '../args.js';
import { rowWriter } from '../format.js';
import { sha256File } from '../../node/sha256.js';
import { version } from '../../node/version.js';
import { errorSetHelp, errorSetInputs, errorSetOptions, errorSetRequest, scoreErrorSets } from '../error-set-options.js';
import { checkOutputPaths } from '../outputs.js';
import { withOutputSet } from '../../pipeline/atomic.js';

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
  --json            print the thresholds document written to T.json instead of the table
${errorSetHelp}`,
  async run(argv) {
    const { values } = parse(argv, { ...errorSetOptions, out: { type: 'string', short: 'o' }, plot: { type: 'string' }, json: { type: 'boolean' } }, 'calibrate');
    const out = required(values.out, 'out (-o)');
    const request = errorSetRequest(values, false);
    checkOutputPaths([{ path: out, option: 'out' }, ...(values.plot ? [{ path: values.plot, option: 'plot' }] : [])], errorSetInputs(values));
    const { sets, weights, arch } = await scoreErrorSets(values, request);
    const calibration = calibrateThresholds(sets.real, sets.fake);
    const doc = thresholdsDocument(calibration, {
      model: { file: basename(weights.path), sha256: await sha256File(weights.path), format: weights.format },
      imageSize: arch.imageSize,
      realSource: sets.realSource,
      fakeSource: sets.fakeSource,
      created: new Date().toISOString(),
      tool: `rcae ${version()}`,
    });
    const plot = values.plot;
    await withOutputSet(async (outputs) => {
      await outputs.stage(out, (tmp) => writeThresholds(tmp, doc));
      if (plot) {
        const thresholds = LEVELS.flatMap((name) => (calibration.levels[name] ? [{ label: name, value: calibration.levels[name]!.value }] : []));
        await outputs.stage(plot, (tmp) => renderPng(histogramSvg(sets.real, sets.fake, { thresholds, title: 'Calibration: reconstruction error of real and fake images' }), tmp));
      }
    });
    if (values.json) process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    else {
      const rows = rowWriter('table', ['level', 'threshold', 'FPR', 'TPR', 'rule'], (text) => process.stdout.write(text));
      for (const name of LEVELS) {
        const level = calibration.levels[name];
        if (!level) continue;
        const rule = level.percentile !== undefined ? `${level.percentile}th percentile of real` : level.method;
        rows.write({ level: name, threshold: level.value, FPR: percent(level.fpr), TPR: percent(level.tpr), rule });
      }
      rows.end();
    }
    const { real, fake } = calibration;
    const stats = `real ${real.count}: mean ${real.mean.toPrecision(4)} median ${real.median.toPrecision(4)}` +
      (fake ? `; fake ${fake.count}: mean ${fake.mean.toPrecision(4)} median ${fake.median.toPrecision(4)}; ratio of means ${(fake.mean / real.mean).toFixed(2)}x` : '');
    process.stderr.write(`${stats}\nwrote ${out}${values.plot ? ` and ${values.plot}` : ''}\n`);
  },
};
