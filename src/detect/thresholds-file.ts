// Thresholds files in Node: where they are by convention, and reading and writing them (writes go
// through a temporary file, so a crash never leaves half a file).
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { FileRefusedError, readRegularFile } from '../io/regular-file.js';
import { writeFileAtomically } from '../node/atomic.js';
import { platform } from '../platform.js';
import { FORMER_SCORE_NAMES, type ScoreName } from './scores.js';
import { MAX_THRESHOLDS_BYTES, parseThresholds, parseThresholdsBytes, ThresholdsError, type ThresholdsDocument } from './thresholds.js';

/** `.thresholds.json` for mse (the published name), `.SCORE.thresholds.json` for the other scores. */
const suffix = (score: string) => (score === 'mse' ? '.thresholds.json' : `.${score}.thresholds.json`);

/** The bundled thresholds of a score, calibrated for the bundled model (models/default.safetensors). */
export function defaultThresholdsPath(score: ScoreName = 'mse'): string {
  return platform().defaultModel().thresholds.replace(/\.thresholds\.json$/, suffix(score));
}

/**
 * Where a model's own thresholds live by convention: `NAME.thresholds.json` (or `NAME.SCORE.thresholds.json`)
 * beside `NAME.<ext>`. A file named for the score's former name (`NAME.ssim.thresholds.json` for
 * dssim) is found when there is none by its name now.
 */
export function thresholdsPathBeside(modelPath: string, score: ScoreName = 'mse'): string {
  const beside = (name: string) => join(dirname(modelPath), `${basename(modelPath, extname(modelPath))}${suffix(name)}`);
  const path = beside(score);
  if (existsSync(path)) return path;
  const former = Object.keys(FORMER_SCORE_NAMES).find((name) => FORMER_SCORE_NAMES[name] === score && existsSync(beside(name)));
  return former === undefined ? path : beside(former);
}

export function readThresholds(path: string): ThresholdsDocument {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(path, MAX_THRESHOLDS_BYTES, 'a thresholds file');
  } catch (err) {
    if (!(err instanceof FileRefusedError)) throw err;
    throw new ThresholdsError(err.message.replace(': cannot read: no such file', ': no such thresholds file'));
  }
  return parseThresholdsBytes(bytes, path);
}

export async function writeThresholds(path: string, doc: ThresholdsDocument): Promise<void> {
  parseThresholds(doc, path);
  await writeFileAtomically(path, JSON.stringify(doc, null, 2) + '\n');
}
