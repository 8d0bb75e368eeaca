// What calibrate and eval share: the options saying where the real and fake errors come from, the
// checks made before hours of scoring, and the run that measures both sets with the model.
import { measureErrorSets, type ErrorSetRequest, type ErrorSets } from '../detect/error-sets.js';
import { scoreMeasure, type AtypicalFit, type Column } from '../detect/scores.js';
import type { Model } from '../model.js';
import { openModel } from './model-path.js';
import { parseSynthetic, SYNTHETIC_DESCRIPTIONS, SYNTHETIC_KINDS, SyntheticError } from '../detect/synthetic.js';
import { gpuOptions, gpuOptionsHelp, intOption, required, UsageError, type ParsedValues } from './args.js';

/** Options shared by calibrate and eval: where the real and fake errors come from. */
export const errorSetOptions = {
  model: { type: 'string' },
  real: { type: 'string' },
  fake: { type: 'string' },
  synthetic: { type: 'string' },
  seed: { type: 'string' },
  batch: { type: 'string' },
  every: { type: 'string' },
  start: { type: 'string' },
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
  --start S         with --every K, begin at the S-th image (0 <= S < K; default 0): subsets with
                    different starts are disjoint (calibrate on one, fit or evaluate on another)
  --batch N         samples per GPU batch (default 32)
${gpuOptionsHelp}`;

/** Every file an error-set command reads, which no output may overwrite. */
export function errorSetInputs(values: ParsedValues<typeof errorSetOptions>): string[] {
  return [values.model, values.real, values.fake].filter((p): p is string => p !== undefined);
}

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
  const every = intOption(values.every, 'every', 1);
  const start = intOption(values.start, 'start', 0, 0);
  if (start >= every) throw new UsageError(`--start must be below --every (${every}), got ${start}`);
  return { real, fake: values.fake, synthetic, seed: intOption(values.seed, 'seed', 0, 0), batch: intOption(values.batch, 'batch', 32), every, start };
}

/**
 * Opens the model, measures the real and fake sets of `request` for `columns` (with the atypical fit,
 * where a column needs one, that `fitFor` makes on the open model: calibrate fits it on images, eval
 * reads it from a thresholds file), and frees the model however measuring ends. The returned model
 * runs no more; its weights and architecture stay readable for the report.
 */
export async function measureWithModel(values: ParsedValues<typeof errorSetOptions>, request: ErrorSetRequest, columns: readonly Column[], fitFor: (model: Model) => Promise<AtypicalFit | undefined> | AtypicalFit | undefined): Promise<{ model: Model; sets: ErrorSets }> {
  const model = await openModel(values);
  try {
    const fit = await fitFor(model);
    return { model, sets: await measureErrorSets(model, { ...request, measure: scoreMeasure(model, columns, fit) }) };
  } finally {
    model.dispose();
  }
}
