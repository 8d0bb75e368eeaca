import { basename } from 'node:path';
import { histogramSvg, renderPng } from '../../detect/plots.js';
import { fitAtypical } from '../../detect/atypical-fit.js';
import { calibrateThresholds, LEVELS, thresholdsDocument } from '../../detect/thresholds.js';
import { scoreOption, scoreOptionHelp } from '../score-option.js';
import { writeThresholds } from '../../detect/thresholds-file.js';
import { gpuOptions, intOption, parse, required, UsageError, type Command, type ParsedValues } from '../args.js';
import { rowWriter } from '../format.js';
import { sha256File } from '../../node/sha256.js';
import { version } from '../../node/version.js';
import { errorSetHelp, errorSetInputs, errorSetOptions, errorSetRequest, measureWithModel } from '../error-set-options.js';
import { checkOutputPaths } from '../outputs.js';
import { withOutputSet } from '../../node/atomic.js';

const percent = (v: number | undefined) => (v === undefined ? '-' : `${(100 * v).toFixed(2)}%`);

export const calibrate: Command = {
  name: 'calibrate',
  summary: 'choose detection thresholds from the scores of real (and fake) images',
  help: `Usage: rcae calibrate [--model M] [--score S [--fit-real SRC]] --real SRC [--fake SRC | --synthetic KIND[:N]] -o T.json [--plot calib.png]

Scores the real set (and the fake set), then writes thresholds in the published layout
(reconstruction_thresholds.thresholds.LEVEL.value) with each level's measured TPR and FPR, the error
statistics of both sets, the definitions used, and provenance (model SHA-256, sources, date):
  strict     99th percentile of the real errors (1% of real flagged)
  balanced   95th percentile (5%)
  sensitive  95.5th percentile (4.5%)
  optimal    (needs fakes) midpoint of the gap when fakes all score above reals, else maximum Youden J
Percentiles interpolate linearly between ranks, like numpy's default. An input is FAKE when its error
is above the threshold. Without fakes only the percentile levels are written, with no TPR. The file
records its score (reconstruction_thresholds.score); detect refuses it for another score.

The atypical score first fits Gaussians on the real images of --fit-real (never on fakes; --every
applies, from the first image; --start does not): the latents of every other image, then the six
features of the others, whose latent distances are thus out of sample, and the input statistics of
all (the baseline of rcae eval). The fit is stored in the file. Calibrate on real images the fit
never saw: another source, or the same one with --start (e.g. --every 10 --start 5).

Options:
  -o, --out T.json  output thresholds file (written completely or not at all)
  --plot FILE.png   also draw the two error histograms with the thresholds
  --json            print the thresholds document written to T.json instead of the table
${scoreOptionHelp}
  --fit-real SRC    atypical only (and required there): real images to fit its Gaussians on
${errorSetHelp}`,
  async run(argv) {
    const { values } = parse(argv, { ...errorSetOptions, out: { type: 'string', short: 'o' }, plot: { type: 'string' }, score: { type: 'string' }, 'fit-real': { type: 'string' }, json: { type: 'boolean' } }, 'calibrate');
    const out = required(values.out, 'out (-o)');
    const score = scoreOption(values.score);
    const fitReal = values['fit-real'];
    if (score === 'atypical' && fitReal === undefined) throw new UsageError('--score atypical needs --fit-real SRC (real images to fit its Gaussians on)');
    if (score !== 'atypical' && fitReal !== undefined) throw new UsageError(`--fit-real is for --score atypical; ${score} needs no fit`);
    const request = errorSetRequest(values, false);
    checkOutputPaths([{ path: out, option: 'out' }, ...(values.plot ? [{ path: values.plot, option: 'plot' }] : [])], [...errorSetInputs(values), ...(fitReal ? [fitReal] : [])]);
    let fitted: Awaited<ReturnType<typeof fitAtypical>> | undefined;
    const { model, sets } = await measureWithModel(values, request, [score], async (open) => {
      if (fitReal !== undefined) fitted = await fitAtypical(open, { source: fitReal, batch: request.batch, every: request.every ?? 1 });
      return fitted?.fit;
    });
    const real = sets.real[score];
    const fake = sets.fake?.[score];
    const calibration = calibrateThresholds(real, fake);
    const every = request.every ?? 1;
    const fitSource = fitted && `${fitReal} (${fitted.count} images${every > 1 ? `, every ${every}th` : ''})`;
    const doc = thresholdsDocument(calibration, {
      model: { file: basename(model.weights.path), sha256: await sha256File(model.weights.path), format: model.weights.format },
      imageSize: model.arch.imageSize,
      realSource: sets.realSource,
      fakeSource: sets.fakeSource,
      created: new Date().toISOString(),
      tool: `rcae ${version()}`,
      score,
      fit: fitted && { fit: fitted.fit, source: fitSource! },
    });
    const plot = values.plot;
    await withOutputSet(async (outputs) => {
      await outputs.stage(out, (tmp) => writeThresholds(tmp, doc));
      if (plot) {
        const thresholds = LEVELS.flatMap((name) => (calibration.levels[name] ? [{ label: name, value: calibration.levels[name]!.value }] : []));
        await outputs.stage(plot, (tmp) => renderPng(histogramSvg(real, fake, { thresholds, title: `Calibration: ${score} of real and fake images` }), tmp));
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
    const { real: r, fake: f } = calibration;
    const stats = `${score}: real ${r.count}: mean ${r.mean.toPrecision(4)} median ${r.median.toPrecision(4)}` +
      (f ? `; fake ${f.count}: mean ${f.mean.toPrecision(4)} median ${f.median.toPrecision(4)}; ratio of means ${(f.mean / r.mean).toFixed(2)}x` : '');
    process.stderr.write(`${stats}\nwrote ${out}${values.plot ? ` and ${values.plot}` : ''}\n`);
  },
};
