// f16 against f32 on real images: scores the same inputs with the bundled model in both precisions
// and checks issue 7's rule: at the `balanced` level, every image whose f32 error is more than 1% away
// from the threshold gets the same REAL/FAKE label in f16. Also reports the largest relative error
// difference and how many images sit inside the 1% band (where a flip is allowed).
// Usage: node dist/bench/precision-labels.js [--every K] [--json FILE] [INPUT...]
//        (default input: the CIFAR-10 test archive in ../shared/datasets)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import '../src/node/node-platform.js';
import { defaultThresholds, pickThreshold } from '../src/detect/thresholds.js';
import type { Precision } from '../src/kernels/conv2d/gemm.js';
import { loadModel } from '../src/model.js';
import { DEFAULT_MODEL_PATH } from '../src/node/node-platform.js';
import { scoreInputs } from '../src/node/score-stream.js';

export interface LabelAgreement {
  inputs: number;
  threshold: number;
  /** Images whose f32 error is within 1% of the threshold (a different f16 label is allowed there). */
  nearThreshold: number;
  /** Images outside that band whose f16 label differs from the f32 one (must be 0). */
  disagreements: number;
  /** Images inside the band whose label differs (allowed, reported). */
  flipsNearThreshold: number;
  maxRelativeErrorDiff: number;
  meanRelativeErrorDiff: number;
  variants: Record<Precision, string>;
}

async function errors(precision: Precision, inputs: readonly string[], every: number): Promise<{ errors: Float32Array; variant: string }> {
  const model = await loadModel(DEFAULT_MODEL_PATH, { precision });
  try {
    const out: number[] = [];
    for await (const b of scoreInputs(model, inputs, { batch: 64, every, label: `scoring (${precision})`, measure: async (x) => ({ error: await model.reconstructionError(x) }) })) out.push(...b.measured.error);
    return { errors: Float32Array.from(out), variant: `${model.variant} ${model.precision}` };
  } finally {
    model.dispose();
  }
}

export async function compareLabels(inputs: readonly string[], every: number): Promise<LabelAgreement> {
  const threshold = pickThreshold(await defaultThresholds(), 'balanced').value;
  const f32 = await errors('f32', inputs, every);
  const f16 = await errors('f16', inputs, every);
  let near = 0;
  let disagreements = 0;
  let flips = 0;
  let maxRel = 0;
  let sumRel = 0;
  for (let i = 0; i < f32.errors.length; i++) {
    const a = f32.errors[i];
    const b = f16.errors[i];
    const rel = Math.abs(b - a) / a;
    maxRel = Math.max(maxRel, rel);
    sumRel += rel;
    const differ = a > threshold !== b > threshold;
    if (Math.abs(a - threshold) <= 0.01 * threshold) {
      near++;
      if (differ) flips++;
    } else if (differ) disagreements++;
  }
  return {
    inputs: f32.errors.length,
    threshold,
    nearThreshold: near,
    disagreements,
    flipsNearThreshold: flips,
    maxRelativeErrorDiff: maxRel,
    meanRelativeErrorDiff: sumRel / f32.errors.length,
    variants: { f32: f32.variant, f16: f16.variant },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { every: { type: 'string' }, json: { type: 'string' } }, allowPositionals: true });
  const inputs = positionals.length > 0 ? positionals : [join(process.cwd(), '..', 'shared', 'datasets', 'cifar10-test.tar.gz')];
  const result = await compareLabels(inputs, Number(values.every ?? 1));
  const text = JSON.stringify({ date: new Date().toISOString(), sources: inputs, every: Number(values.every ?? 1), ...result }, null, 2) + '\n';
  if (values.json) writeFileSync(values.json, text);
  process.stdout.write(text);
  process.exit(result.disagreements === 0 ? 0 : 1);
}
