import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  calibrateThresholds, MAX_THRESHOLDS_BYTES, parseLevel, parseThresholds, pickThreshold, thresholdsDocument, ThresholdsError, type Provenance,
} from '../../src/detect/thresholds.js';
import { tempDir } from '../helpers/paths.js';
import { sha256File } from '../../src/node/sha256.js';
import { DEFAULT_MODEL_PATH } from '../../src/cli/model-path.js';
import { defaultThresholdsPath, readThresholds, thresholdsPathBeside, writeThresholds } from '../../src/detect/thresholds-file.js';
import { parseScore, ScoreError } from '../../src/detect/scores.js';

const close = (actual: number, expected: number, what: string, tol = 1e-12) => assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

const examplePath = fileURLToPath(new URL('../../src/detect/published-thresholds.example.json', import.meta.url));

// Real errors 0.001, 0.002, ..., 0.100; fakes 0.5 .. 0.9.
const real = Array.from({ length: 100 }, (_, i) => (i + 1) / 1000);
const fake = [0.5, 0.6, 0.7, 0.8, 0.9];

const provenance: Provenance = {
  model: { file: 'model.safetensors', sha256: 'ab'.repeat(32), format: 'safetensors' },
  imageSize: 128,
  realSource: 'real/ (100 images)',
  fakeSource: 'synthetic noise, seed 0',
  created: '2026-01-01T00:00:00.000Z',
  tool: 'rcae test',
};

test('percentile levels and the separating level, by hand', () => {
  const c = calibrateThresholds(real, fake);
  // strict: h = 99 * 0.99 = 98.01 -> 0.099 + 0.01 * 0.001; one real (0.100) lies above.
  close(c.levels.strict!.value, 0.09901, 'strict');
  close(c.levels.strict!.fpr, 0.01, 'strict fpr');
  // balanced: h = 94.05 -> 0.09505; reals 0.096..0.100 lie above.
  close(c.levels.balanced!.value, 0.09505, 'balanced');
  close(c.levels.balanced!.fpr, 0.05, 'balanced fpr');
  // sensitive: h = 94.545 -> 0.095545; still five reals above (100 values cannot give 4.5%).
  close(c.levels.sensitive!.value, 0.095545, 'sensitive');
  close(c.levels.sensitive!.fpr, 0.05, 'sensitive fpr');
  for (const name of ['strict', 'balanced', 'sensitive'] as const) {
    assert.is(c.levels[name]!.tpr, 1, `${name} tpr`);
    assert.is(c.levels[name]!.method, 'percentile');
  }
  assert.equal(c.levels.optimal, { value: (0.1 + 0.5) / 2, fpr: 0, tpr: 1, method: 'gap-midpoint' });
  close(c.real.mean, 0.0505, 'real mean');
  close(c.fake!.median, 0.7, 'fake median');
});

test('overlapping sets: optimal maximises Youden J', () => {
  // Fakes 0.0955..0.0995 sit among the top reals. Flagging above 0.095 catches every fake and the five
  // reals 0.096..0.100 (J 0.95); any lower flags more reals, any higher misses a fake.
  const c = calibrateThresholds(real, [0.0955, 0.0965, 0.0975, 0.0985, 0.0995]);
  assert.is(c.levels.optimal!.method, 'youden');
  close(c.levels.optimal!.value, 0.09525, 'optimal');
  close(c.levels.optimal!.tpr!, 1, 'tpr');
  close(c.levels.optimal!.fpr, 0.05, 'fpr');
});

test('without fakes: percentile levels only, TPR unknown', () => {
  const c = calibrateThresholds(real);
  assert.equal(Object.keys(c.levels), ['strict', 'balanced', 'sensitive']);
  assert.is(c.levels.strict!.tpr, undefined);
  assert.is(c.fake, undefined);
  const doc = thresholdsDocument(c, { ...provenance, fakeSource: undefined });
  assert.is(doc.reconstruction_thresholds.thresholds.strict.expected_tpr, null);
  assert.is(doc.reconstruction_thresholds.dataset_fake, null);
  parseThresholds(doc, 'doc');
});

test('the written file has the published layout, statistics, definitions and provenance', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'T.json');
    await writeThresholds(path, thresholdsDocument(calibrateThresholds(real, fake), provenance));
    const json = JSON.parse(readFileSync(path, 'utf8'));
    const section = json.reconstruction_thresholds;
    close(section.thresholds.balanced.value, 0.09505, 'balanced');
    assert.is(section.thresholds.balanced.expected_fpr, 0.05);
    assert.is(section.thresholds.balanced.expected_tpr, 1);
    assert.is(section.thresholds.balanced.percentile, 95);
    assert.is(section.thresholds.optimal.method, 'gap-midpoint');
    assert.is(section.statistics.real_images.count, 100);
    close(section.statistics.real_images.percentile_99, 0.09901, 'p99');
    close(section.statistics.separation.ratio, 0.7 / 0.0505, 'ratio');
    assert.match(section.definitions.percentile, /numpy/);
    assert.is(section.provenance.model_sha256, 'ab'.repeat(32));
    assert.is(section.provenance.created, provenance.created);
    assert.equal(section.image_size, [128, 128]);
    assert.equal(readThresholds(path), json);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a round trip keeps unknown fields', async () => {
  const dir = tempDir();
  try {
    const doc = {
      config: { latent_dim: 512 },
      reconstruction_thresholds: {
        thresholds: { balanced: { value: 0.01, colour: 'amber' }, custom: { value: 0.5 } },
        statistics: { anything: [1, 2, 3] },
        note: 'kept',
      },
    };
    const first = join(dir, 'a.json');
    const second = join(dir, 'b.json');
    writeFileSync(first, JSON.stringify(doc));
    await writeThresholds(second, readThresholds(first));
    assert.equal(readThresholds(second), doc);
    assert.equal(pickThreshold(readThresholds(second), 'custom'), { level: 'custom', value: 0.5 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the published thresholds example loads with the published numbers', () => {
  const doc = readThresholds(examplePath);
  const expected = { strict: 0.012768, balanced: 0.009066, sensitive: 0.009319, optimal: 0.204039 };
  for (const [level, value] of Object.entries(expected)) assert.equal(pickThreshold(doc, level, examplePath), { level, value });
  const stats = doc.reconstruction_thresholds.statistics as { real_images: { mean: number; median: number }; fake_images: { mean: number; median: number }; separation: { ratio: number } };
  assert.equal([stats.real_images.mean, stats.real_images.median], [0.004293, 0.003766]);
  assert.equal([stats.fake_images.mean, stats.fake_images.median], [0.401686, 0.40168]);
  assert.is(stats.separation.ratio, 93.56);
});

test('invalid files fail with one line naming the file and the problem', () => {
  const dir = tempDir();
  try {
    const cases: [unknown, RegExp][] = [
      [[], /expected a JSON object/],
      [{ thresholds: {} }, /missing object "reconstruction_thresholds"/],
      [{ reconstruction_thresholds: { thresholds: {} } }, /at least one level/],
      [{ reconstruction_thresholds: { thresholds: { strict: 0.1 } } }, /thresholds\.strict must be an object/],
      [{ reconstruction_thresholds: { thresholds: { strict: { value: '0.1' } } } }, /strict\.value must be a finite number >= 0, got "0.1"/],
      [{ reconstruction_thresholds: { thresholds: { strict: { value: -1 } } } }, /strict\.value must be a finite number >= 0/],
      [{ reconstruction_thresholds: { thresholds: { strict: { value: 0.1, expected_fpr: 5 } } } }, /strict\.expected_fpr must be a number in \[0, 1\]/],
      [{ reconstruction_thresholds: { thresholds: { strict: { value: 0.1, percentile: 101 } } } }, /strict\.percentile must be a number in \[0, 100\]/],
    ];
    cases.forEach(([json, message], i) => {
      const path = join(dir, `bad${i}.json`);
      writeFileSync(path, JSON.stringify(json));
      assert.throws(() => readThresholds(path), (err: Error) => err instanceof ThresholdsError && err.message.startsWith(path + ': ') && message.test(err.message) && !err.message.includes('\n'), `case ${i}`);
    });
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"reconstruction_thresholds": ');
    assert.throws(() => readThresholds(broken), (err: Error) => err.message.startsWith(`${broken}: not valid JSON`));
    assert.throws(() => readThresholds(join(dir, 'missing.json')), /missing\.json: no such thresholds file/);
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, '');
    truncateSync(huge, MAX_THRESHOLDS_BYTES + 1);
    assert.throws(() => readThresholds(huge), /huge\.json: \d+ bytes is too large for a thresholds file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('levels: names, numbers, and missing levels', () => {
  assert.is(parseLevel('balanced'), 'balanced');
  assert.is(parseLevel('0.0125'), 0.0125);
  assert.is(parseLevel('1e-2'), 0.01);
  for (const bad of ['-0.1', 'Infinity', '']) assert.throws(() => parseLevel(bad), (err: Error) => err instanceof ThresholdsError, bad);
  assert.equal(pickThreshold(undefined, 0.02), { level: '0.02', value: 0.02 });
  assert.throws(() => pickThreshold(undefined, 'strict'), /needs a thresholds file/);
  const doc = readThresholds(examplePath);
  assert.throws(() => pickThreshold(doc, 'paranoid', 'T.json'), /T\.json: no threshold level 'paranoid' \(it has strict, balanced, sensitive, optimal\)/);
  // Inherited object properties are not levels.
  assert.throws(() => pickThreshold(doc, 'constructor', 'T.json'), /no threshold level 'constructor'/);
});

test('thresholds file locations', () => {
  assert.is(thresholdsPathBeside(join('models', 'mine.safetensors')), join('models', 'mine.thresholds.json'));
  assert.is(thresholdsPathBeside('/x/y/model.best.ckpt'), '/x/y/model.best.thresholds.json');
  assert.ok(defaultThresholdsPath().endsWith(join('models', 'default.thresholds.json')));
  assert.not.ok(defaultThresholdsPath().includes(join('dist', 'models')));
});

test('files made before the ssim score became dssim are read as dssim, found by their old name, and --score ssim says what it is now', () => {
  const dir = tempDir('thresholds-former-');
  const old = JSON.parse(readFileSync(defaultThresholdsPath('dssim'), 'utf8'));
  old.reconstruction_thresholds.score = 'ssim';
  const model = join(dir, 'mine.safetensors');
  writeFileSync(join(dir, 'mine.ssim.thresholds.json'), JSON.stringify(old));
  assert.is(thresholdsPathBeside(model, 'dssim'), join(dir, 'mine.ssim.thresholds.json'));
  assert.is(readThresholds(thresholdsPathBeside(model, 'dssim')).reconstruction_thresholds.score, 'dssim');
  // A file by the name now is preferred; the other scores never look for one.
  writeFileSync(join(dir, 'mine.dssim.thresholds.json'), JSON.stringify(old));
  assert.is(thresholdsPathBeside(model, 'dssim'), join(dir, 'mine.dssim.thresholds.json'));
  assert.is(thresholdsPathBeside(model, 'hf'), join(dir, 'mine.hf.thresholds.json'));
  assert.throws(() => parseScore('ssim'), (e: Error) => e instanceof ScoreError && /unknown score 'ssim' \(one of mse, hf, dssim, atypical\); the score once named ssim is dssim now/.test(e.message));
  old.reconstruction_thresholds.score = 'psnr';
  assert.throws(() => parseThresholds(old, 'x.json'), /x\.json: reconstruction_thresholds\.score must be one of mse, hf, dssim, atypical, got "psnr"/);
  rmSync(dir, { recursive: true });
});

test('the bundled thresholds were calibrated on the bundled model', async () => {
  const doc = readThresholds(defaultThresholdsPath());
  const sha256 = await sha256File(DEFAULT_MODEL_PATH);
  const provenance = doc.reconstruction_thresholds.provenance as { model_sha256?: string } | undefined;
  assert.is(provenance?.model_sha256, sha256, 'recalibrate with tools/evaluate-default.sh after changing models/default.safetensors');
});

test.run();
