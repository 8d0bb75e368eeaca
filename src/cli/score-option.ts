// --score for the commands that run the model: which detection score to compute, and the thresholds
// file that belongs to it (a file made for another score is refused; one made for another model is
// used with a warning, since its levels will not flag what they say).
import { existsSync } from 'node:fs';
import { parseScore, ScoreError, SCORE_DESCRIPTIONS, SCORES, type ScoreName } from '../detect/scores.js';
import { modelSha256OfThresholds, scoreOfThresholds, type ThresholdsDocument } from '../detect/thresholds.js';
import { defaultThresholdsPath, readThresholds, thresholdsPathBeside } from '../detect/thresholds-file.js';
import type { Model } from '../model.js';
import { sha256File } from '../node/sha256.js';
import { UsageError } from './args.js';

export const scoreOptionHelp = `  --score S         detection score (default mse):
${SCORES.map((s) => `                      ${s.padEnd(10)}${SCORE_DESCRIPTIONS[s]}`).join('\n')}`;

export function scoreOption(text: string | undefined): ScoreName {
  try {
    return parseScore(text ?? 'mse');
  } catch (err) {
    if (err instanceof ScoreError) throw new UsageError(`--score: ${err.message}`);
    throw err;
  }
}

/**
 * The thresholds file for a score: --thresholds, else the one beside --model (NAME.thresholds.json
 * for mse, NAME.SCORE.thresholds.json for the others), else the bundled one when the bundled model
 * is used. Thresholds of one model never silently apply to another.
 */
export function thresholdsFileFor(option: string | undefined, model: string | undefined, score: ScoreName): string {
  if (option) return option;
  const path = model ? thresholdsPathBeside(model, score) : defaultThresholdsPath(score);
  if (existsSync(path)) return path;
  throw new UsageError(model
    ? `--thresholds is required: no ${path} beside --model ${model} (make one with rcae calibrate${score === 'mse' ? '' : ` --score ${score}`}, or give --level as a number)`
    : `--thresholds is required: no bundled ${score} thresholds at ${path}`);
}

/** Reads a thresholds file and refuses it when it was made for another score. */
export function readScoreThresholds(path: string, score: ScoreName): ThresholdsDocument {
  const doc = readThresholds(path);
  const made = scoreOfThresholds(doc);
  if (made !== score) throw new UsageError(`${path} holds thresholds for score '${made}', not '${score}' (give --score ${made}, or a file made with rcae calibrate --score ${score})`);
  return doc;
}

/** Warns on stderr when the file records another model's SHA-256 than `model`'s. */
export async function warnOnModelMismatch(path: string, doc: ThresholdsDocument, model: Model): Promise<void> {
  const recorded = modelSha256OfThresholds(doc);
  if (recorded === undefined) return;
  const actual = await sha256File(model.weights.path);
  if (recorded.toLowerCase() !== actual) {
    process.stderr.write(`warning: ${path} was calibrated for a model with SHA-256 ${recorded.slice(0, 12)}..., not ${model.weights.path} (${actual.slice(0, 12)}...): its levels will not flag the fractions they state; calibrate thresholds for this model\n`);
  }
}
