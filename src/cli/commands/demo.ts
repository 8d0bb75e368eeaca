import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_PATH } from '../model-path.js';
import { parse, type Command } from '../args.js';
import { detect } from './detect.js';
import { InputError } from '../../errors.js';

const SAMPLES = fileURLToPath(new URL('../../../../samples', import.meta.url));

export const demo: Command = {
  name: 'demo',
  summary: 'the detector on the bundled sample images with the bundled default model (npm start)',
  help: `Usage: rcae demo [--adapter A]

Runs \`rcae detect --format table\` on the bundled samples/ (drawn landscape scenes and uniform-noise
images) with the bundled default model and its calibrated thresholds.`,
  async run(argv) {
    const { values } = parse(argv, { adapter: { type: 'string' } }, 'demo');
    if (!existsSync(DEFAULT_MODEL_PATH)) throw new InputError(`bundled default model missing at ${DEFAULT_MODEL_PATH}`);
    process.stderr.write(`rcae demo: bundled model ${DEFAULT_MODEL_PATH}\nrcae demo: images in ${SAMPLES}\n\n`);
    // Rows read better with paths relative to where the user stands, when that is above the samples.
    const shown = relative(process.cwd(), SAMPLES);
    const samples = shown.startsWith('..') ? SAMPLES : shown;
    return detect.run(['--format', 'table', ...(values.adapter ? ['--adapter', values.adapter] : []), samples]);
  },
};
