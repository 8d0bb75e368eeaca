import { existsSync, writeFileSync } from 'node:fs';
import { evaluateDetector, type Evaluation } from '../../detect/evaluate.js';
import { rocCurve } from '../../detect/metrics.js';
import { histogramSvg, renderPng, rocCurvesSvg, rocPlotSvg } from '../../detect/plots.js';
import { type Column, SCORES, type ScoreName } from '../../detect/scores.js';
import { fitOfThresholds, type ThresholdsDocument } from '../../detect/thresholds.js';
import { defaultThresholdsPath, thresholdsPathBeside } from '../../detect/thresholds-file.js';
import { parse, type Command } from '../args.js';
import { rowWriter } from '../format.js';
import { withOutputSet } from '../../node/atomic.js';
import { errorSetHelp, errorSetInputs, errorSetOptions, errorSetRequest, measureWithModel } from '../error-set-options.js';
import { checkOutputPaths } from '../outputs.js';
import { readScoreThresholds, scoreOption, scoreOptionHelp, thresholdsFileFor } from '../score-option.js';

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

/** One row per score: the ranking figures and what the score's balanced level does on these sets. */
function printComparison(byColumn: Record<string, Evaluation>): void {
  const rows = rowWriter('table', ['score', 'AUROC', 'AP', 'EER', 'TPR@1%FPR', 'TPR@5%FPR', 'balanced FPR', 'balanced TPR'], (text) => process.stdout.write(text));
  for (const [score, e] of Object.entries(byColumn)) {
    const balanced = e.levels?.balanced;
    rows.write({
      score, AUROC: e.auroc.toFixed(4), AP: e.averagePrecision.toFixed(4), EER: percent(e.eer.rate),
      'TPR@1%FPR': percent(e.tprAt1PercentFpr.tpr), 'TPR@5%FPR': percent(e.tprAt5PercentFpr.tpr),
      'balanced FPR': balanced ? percent(balanced.fpr) : '-', 'balanced TPR': balanced ? percent(balanced.tpr) : '-',
    });
  }
  rows.end();
}

/** The thresholds file of each score under --score all: the model's own (or the bundled) where one exists. */
function thresholdsForAll(model: string | undefined, atypicalOption: string | undefined): Partial<Record<ScoreName, { path: string; doc: ThresholdsDocument }>> {
  const out: Partial<Record<ScoreName, { path: string; doc: ThresholdsDocument }>> = {};
  for (const score of SCORES) {
    // The atypical file is required (it holds the fit); the others only add their levels.
    const path = score === 'atypical' ? thresholdsFileFor(atypicalOption, model, score) : model ? thresholdsPathBeside(model, score) : defaultThresholdsPath(score);
    if (existsSync(path)) out[score] = { path, doc: readScoreThresholds(path, score) };
  }
  return out;
}

export const evaluate: Command = {
  name: 'eval',
  summary: 'AUROC, average precision, EER and TPR at fixed FPR of the detector on real vs fake images',
  help: `Usage: rcae eval [--model M] [--score S|all] --real SRC (--fake SRC | --synthetic KIND[:N]) [--json FILE] [--plot PREFIX]

Scores both sets and reports: AUROC (ties count one half), average precision (scikit-learn's
step-wise definition), equal error rate, TPR at 1% and 5% FPR, mean and median errors of each set
and their ratios, and the counts. Fake is the positive class; an input is FAKE when its score is
above the threshold.

--score all measures every score from the same forward passes and prints one row per score, plus
the model-free baseline (a Gaussian over input statistics fitted with the atypical fit; no model),
with the balanced level of each score's thresholds file where there is one (NAME.SCORE.thresholds.json
beside --model, or the bundled ones); the ROC plot has one curve per row. The atypical fit comes from
--thresholds, else the atypical thresholds beside --model or bundled.

Options:
${scoreOptionHelp}
                    or all
  --thresholds T    also report each level of this thresholds file (made for the score) on these sets
  --json FILE       write every figure as JSON to FILE ('-': to stdout, instead of the table)
  --plot PREFIX     write PREFIX-roc.png (ROC curves) and, for one score, PREFIX-hist.png (histograms)
${errorSetHelp}`,
  async run(argv) {
    const { values } = parse(argv, { ...errorSetOptions, score: { type: 'string' }, thresholds: { type: 'string' }, json: { type: 'string' }, plot: { type: 'string' } }, 'eval');
    const all = values.score === 'all';
    const score = all ? undefined : scoreOption(values.score);
    const request = errorSetRequest(values, true);
    const jsonFile = values.json && values.json !== '-' ? values.json : undefined;
    const plot = values.plot;
    checkOutputPaths([
      ...(jsonFile ? [{ path: jsonFile, option: 'json' }] : []),
      ...(plot ? [{ path: `${plot}-roc.png`, option: 'plot' }, ...(all ? [] : [{ path: `${plot}-hist.png`, option: 'plot' }])] : []),
    ], [...errorSetInputs(values), ...(values.thresholds ? [values.thresholds] : [])]);
    let files: Partial<Record<ScoreName, { path: string; doc: ThresholdsDocument }>>;
    if (all) files = thresholdsForAll(values.model, values.thresholds);
    else if (values.thresholds || score === 'atypical') {
      const path = thresholdsFileFor(values.thresholds, values.model, score!);
      files = { [score!]: { path, doc: readScoreThresholds(path, score!) } };
    } else files = {};
    const columns: Column[] = all ? [...SCORES, 'baseline'] : [score!];
    const atypical = files.atypical;
    const { model, sets } = await measureWithModel(values, request, columns, (open) => atypical && fitOfThresholds(atypical.doc, atypical.path, open.latentSize));
    const fake = sets.fake!;
    const byColumn: Record<string, Evaluation> = {};
    for (const c of columns) byColumn[c] = evaluateDetector(sets.real[c], fake[c], c === 'baseline' ? undefined : files[c]?.doc);
    const common = { model: model.weights.path, realSource: sets.realSource, fakeSource: sets.fakeSource };
    const report = all
      ? { ...common, scores: byColumn, thresholds: Object.fromEntries(Object.entries(files).map(([s, f]) => [s, f.path])) }
      : { ...byColumn[score!], score, ...common };
    const json = JSON.stringify(report, null, 2) + '\n';
    await withOutputSet(async (outputs) => {
      if (jsonFile) await outputs.stage(jsonFile, (tmp) => writeFileSync(tmp, json));
      if (!plot) return;
      if (all) {
        const curves = columns.map((c) => ({ roc: rocCurve(sets.real[c], fake[c]), text: `${c}: AUROC ${byColumn[c].auroc.toFixed(4)}` }));
        await outputs.stage(`${plot}-roc.png`, (tmp) => renderPng(rocCurvesSvg(curves, { title: 'ROC: real vs fake, one curve per score' }), tmp));
      } else {
        const e = byColumn[score!];
        await outputs.stage(`${plot}-roc.png`, (tmp) => renderPng(rocPlotSvg(rocCurve(sets.real[score!], fake[score!]), { auroc: e.auroc, title: `ROC (${score}): real vs fake` }), tmp));
        const levels = Object.entries(e.levels ?? {}).map(([label, l]) => ({ label, value: l.value }));
        await outputs.stage(`${plot}-hist.png`, (tmp) => renderPng(histogramSvg(sets.real[score!], fake[score!], { thresholds: levels }), tmp));
      }
    });
    if (values.json === '-') process.stdout.write(json);
    else if (all) printComparison(byColumn);
    else printTable(byColumn[score!]);
    process.stderr.write(`real ${sets.realSource}; fake ${sets.fakeSource}\n`);
  },
};
