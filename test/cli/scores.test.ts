// The detection scores through the real CLI on the w8 fixture (PyTorch's own reconstructions of its
// inputs are in the fixture): hf and dssim against the float64 references, thresholds files that
// record their score, the atypical fit, and eval --score all with the model-free baseline.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpy } from '../../src/io/npy.js';
import { writeNpy } from '../../src/node/npy-file.js';
import { hfReference, ssimReference } from '../../src/kernels/stats/reference.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const dir = fixture('model', 'w8');
const ckpt = join(dir, 'model-published.ckpt');
const real = join(dir, 'input-cifar.npy');
const shape = { channels: 3, height: 128, width: 128 };
const tmp = tempDir();

const column = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l).error as number);

test('score --score hf and dssim equal the float64 references on PyTorch\'s reconstructions', () => {
  const input = readNpy(real).data as Float32Array;
  const recon = readNpy(join(dir, 'recon-cifar.npy')).data as Float32Array;
  const expected = { hf: hfReference(input, recon, 4, shape), dssim: ssimReference(input, recon, 4, shape).map((v) => 1 - v) };
  for (const score of ['hf', 'dssim'] as const) {
    const r = rcae(['score', '--model', ckpt, '--score', score, '--format', 'jsonl', real]);
    assert.is(r.status, 0, r.stderr);
    column(r.stdout).forEach((v, i) => {
      const off = Math.abs(v - expected[score][i]) / expected[score][i];
      assert.ok(off <= 1e-4, `${score} sample ${i}: ${v} vs ${expected[score][i]}`);
    });
  }
  const bad = rcae(['score', '--model', ckpt, '--score', 'psnr', real]);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--score: unknown score 'psnr' \(one of mse, hf, dssim, atypical\)/);
});

test('reconstruct --maps writes an mse, an hf and a dssim map per sample, at the model\'s input size', async () => {
  const maps = join(tmp, 'maps');
  mkdirSync(maps);
  const r = rcae(['reconstruct', '--model', ckpt, '--maps', maps, real]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(readdirSync(maps).sort(), [0, 1, 2, 3].flatMap((i) => ['dssim', 'hf', 'mse'].map((score) => `00000${i}.${score}.png`)));
  const meta = await sharp(join(maps, '000002.hf.png')).metadata();
  assert.equal([meta.width, meta.height, meta.format], [128, 128, 'png']);
  const missing = rcae(['reconstruct', '--model', ckpt, '--maps', join(tmp, 'nowhere'), real]);
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /--maps: .*nowhere is not an existing directory/);
});

test('a thresholds file records its score: detect refuses it for another, warns for another model', () => {
  const file = join(tmp, 'hf.json');
  const cal = rcae(['calibrate', '--model', ckpt, '--score', 'hf', '--real', real, '-o', file]);
  assert.is(cal.status, 0, cal.stderr);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  assert.is(doc.reconstruction_thresholds.score, 'hf');
  assert.match(doc.reconstruction_thresholds.definitions.error, /Laplacian/);

  const wrong = rcae(['detect', '--model', ckpt, '--thresholds', file, real]);
  assert.is(wrong.status, 2);
  assert.match(wrong.stderr, /holds thresholds for score 'hf', not 'mse'/);
  const right = rcae(['detect', '--model', ckpt, '--score', 'hf', '--thresholds', file, '--format', 'jsonl', real]);
  assert.is(right.status, 0, right.stderr);
  assert.not.match(right.stderr, /warning/);
  assert.match(right.stderr, /of 4 flagged FAKE/);

  doc.reconstruction_thresholds.provenance.model_sha256 = '0'.repeat(64);
  const other = join(tmp, 'hf-other-model.json');
  writeFileSync(other, JSON.stringify(doc));
  const warned = rcae(['detect', '--model', ckpt, '--score', 'hf', '--thresholds', other, '--format', 'jsonl', real]);
  assert.is(warned.status, 0, warned.stderr);
  assert.match(warned.stderr, /warning: .*hf-other-model\.json was calibrated for a model with SHA-256 000000000000\.\.\., not /);
});

test('atypical: fitted on real images only, stored in the file, used by score, detect and eval --score all', () => {
  const noFit = rcae(['calibrate', '--model', ckpt, '--score', 'atypical', '--real', real, '-o', join(tmp, 'x.json')]);
  assert.is(noFit.status, 2);
  assert.match(noFit.stderr, /--score atypical needs --fit-real SRC/);

  // Eight real samples to fit on: the fixture's four CIFAR images and their mirror images.
  const eight = join(tmp, 'fit.npy');
  const cifar = readNpy(real).data as Float32Array;
  const mirrored = cifar.map((_, i) => cifar[i - (i % 128) + 127 - (i % 128)]);
  const both = new Float32Array(2 * cifar.length);
  both.set(cifar);
  both.set(mirrored, cifar.length);
  writeNpy(eight, both, [8, 3, 128, 128]);

  const file = join(tmp, 'atypical.json');
  const cal = rcae(['calibrate', '--model', ckpt, '--score', 'atypical', '--fit-real', eight, '--real', real, '--synthetic', 'noise:4', '-o', file]);
  assert.is(cal.status, 0, cal.stderr);
  const section = JSON.parse(readFileSync(file, 'utf8')).reconstruction_thresholds;
  assert.is(section.score, 'atypical');
  assert.is(section.fit.latent.dim, 64);
  // log mse, log hf, the latent distance and the three input statistics.
  assert.is(section.fit.features.dim, 6);
  assert.is(section.fit.input.dim, 3);
  assert.match(section.fit.real_source, /fit\.npy \(8 images\)/);

  const scored = rcae(['score', '--model', ckpt, '--score', 'atypical', '--thresholds', file, '--format', 'jsonl', real]);
  assert.is(scored.status, 0, scored.stderr);
  assert.ok(column(scored.stdout).every((v) => Number.isFinite(v) && v >= 0), scored.stdout);
  const labelled = rcae(['detect', '--model', ckpt, '--score', 'atypical', '--thresholds', file, '--level', 'strict', '--format', 'jsonl', real]);
  assert.is(labelled.status, 0, labelled.stderr);

  const evaluated = rcae(['eval', '--model', ckpt, '--score', 'all', '--thresholds', file, '--real', real, '--synthetic', 'noise:4', '--json', '-']);
  assert.is(evaluated.status, 0, evaluated.stderr);
  const report = JSON.parse(evaluated.stdout);
  assert.equal(Object.keys(report.scores), ['mse', 'hf', 'dssim', 'atypical', 'baseline']);
  // Uniform noise is far rougher than any photo: the input statistics alone separate it.
  assert.is(report.scores.baseline.auroc, 1);
  assert.ok(report.scores.atypical.levels.strict.fpr <= 0.25);
});

test.run();
