import { evaluateDetector, type Evaluation } from '../../detect/evaluate.js';
import { rocCurve } from '../../detect/metrics.js';
import { histogramSvg, renderPng, rocPlotSvg } from '../../detect/plots.js';
import { readThresholds } from '../../detect/thresholds-file.js';
import { parse, type Command } from '../args.js';
import { rowWriter } from '../format.js';
import { withOutputSet } from '../../pipeline/atomic.js';
import { writeFileSync } from 'node:fs';
import { errorSetHelp, errorSetInputs, errorSetOptions, errorSetRequest, scoreErrorSets } from '../error-set-options.js';
import { checkOutputPaths } from '../outputs.js';

const percent = (v: number) => `${(100 * v).toFixed(2)}%`;
const num = (v: number) => v.toPrecision(6);

function printTable(e: Evaluation): void {
  const rows = rowWriter('table', ['metric', 'value'], (text) => process.stdout.write(text));
  const row = (metric: string, value: string) => rows.write({ metric, value });
  row('AUROC', e.auroc.toFixed(6));
  row('average precision', e.averagePrecision.toFixed(6));
  row('EER', `${percent(e.eer.rate)} (threshold ${num(e.eer.threshold)})`);
  for (const [name, p] of [['TPR at 1% FPR', e.tprAt1PercentFpr], ['TPR at 5% FPR', e.tprAt5PercentFpr]] as const) {
    row(name, `${percent(p.tpr)} (FPR ${percent(p.fpr)}, threshold ${num(p.threshold)})`);
  }
  row('real errors', `n=${e.real.count} mean ${num(e.real.mean)} median ${num(e.real.median)}`);
  row('fake errors', `n=${e.fake.count} mean ${num(e.fake.mean)} median ${num(e.fake.median)}`);
  row('ratio fake/real', `mean ${e.meanRatio.toFixed(2)}x, median ${e.medianRatio.toFixed(2)}x`);
  for (const [name, level] of Object.entries(e.levels ?? {})) {
    row(`level ${name}`, `threshold ${num(level.value)}: TPR ${percent(level.tpr)}, FPR ${percent(level.fpr)}`);
  }
  rows.end();
}

export const evaluate: Command = {
  name: 'eval',
  summary: 'AUROC, average precision, EER and TPR at fixed FPR of the detector on real vs fake images',
  help: `Usage: rcae eval [--model M] --real SRC (--fake SRC | --synthetic KIND[:N]) [--json FILE] [--plot PREFIX]

Scores both sets and reports: AUROC (ties count one half), average precision (scikit-learn's
step-wise definition), equal error rate, TPR at 1% and 5% FPR, mean and median errors of each set
and their ratios, and the counts. Fake is the positive class; an input is FAKE when its error is
above the threshold.

Options:
  --thresholds T    also report each level of this thresholds file on these sets
  --json FILE       write every figure as JSON to FILE ('-': to stdout, instead of the table)
  --plot PREFIX     write PREFIX-roc.png (ROC curve) and PREFIX-hist.png (error histograms)
${errorSetHelp}`,
  async run(argv) {
    const { values } = parse(argv, { ...errorSetOptions, thresholds: { type: 'string' }, json: { type: 'string' }, plot: { type: 'string' } }, 'eval');
    const request = errorSetRequest(values, true);
    const jsonFile = values.json && values.json !== '-' ? values.json : undefined;
    const plot = values.plot;
    checkOutputPaths([
      ...(jsonFile ? [{ path: jsonFile, option: 'json' }] : []),
      ...(plot ? [{ path: `${plot}-roc.png`, option: 'plot' }, { path: `${plot}-hist.png`, option: 'plot' }] : []),
    ], [...errorSetInputs(values), ...(values.thresholds ? [values.thresholds] : [])]);
    const thresholds = values.thresholds ? readThresholds(values.thresholds) : undefined;
    const { sets, weights } = await scoreErrorSets(values, request);
    const fake = sets.fake!;
    const evaluation = evaluateDetector(sets.real, fake, thresholds);
    const report = { ...evaluation, model: weights.path, realSource: sets.realSource, fakeSource: sets.fakeSource };
    const json = JSON.stringify(report, null, 2) + '\n';
    await withOutputSet(async (outputs) => {
      if (jsonFile) await outputs.stage(jsonFile, (tmp) => writeFileSync(tmp, json));
      if (plot) {
        await outputs.stage(`${plot}-roc.png`, (tmp) => renderPng(rocPlotSvg(rocCurve(sets.real, fake), { auroc: evaluation.auroc, title: 'ROC: real vs fake' }), tmp));
        const levels = Object.entries(evaluation.levels ?? {}).map(([label, l]) => ({ label, value: l.value }));
        await outputs.stage(`${plot}-hist.png`, (tmp) => renderPng(histogramSvg(sets.real, fake, { thresholds: levels }), tmp));
      }
    });
    if (values.json === '-') process.stdout.write(json);
    else printTable(evaluation);
    process.stderr.write(`real ${sets.realSource}; fake ${sets.fakeSource}\n`);
  },
};
