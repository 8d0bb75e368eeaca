import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rocCurve } from '../../src/detect/metrics.js';
import { histogramSvg, renderPng, rocPlotSvg } from '../../src/detect/plots.js';
import { randomStream } from '../../src/detect/synthetic.js';
import { tempDir } from '../helpers/paths.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from the IHDR chunk, which must come first. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  assert.equal([...bytes.subarray(0, 8)], PNG_SIGNATURE, 'PNG signature');
  assert.is(bytes.toString('latin1', 12, 16), 'IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Pixels of the image close to an RGB colour. */
async function countColour(path: string, rgb: [number, number, number]): Promise<number> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let p = 0; p < info.width * info.height; p++) {
    if (Math.abs(data[p * 3] - rgb[0]) + Math.abs(data[p * 3 + 1] - rgb[1]) + Math.abs(data[p * 3 + 2] - rgb[2]) < 30) n++;
  }
  return n;
}

function lognormal(seed: number, n: number, median: number): number[] {
  const random = randomStream(seed, 0);
  return Array.from({ length: n }, () => median * Math.exp(0.5 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

test('ROC plot renders to a PNG of the requested size with the curve drawn', async () => {
  const dir = tempDir();
  try {
    const real = lognormal(1, 300, 0.004);
    const fake = lognormal(2, 200, 0.006);
    const path = join(dir, 'roc.png');
    const size = await renderPng(rocPlotSvg(rocCurve(real, fake), { auroc: 0.75, title: 'ROC <test> & "quotes"', size: 400 }), path);
    assert.equal(size, { width: 400, height: 400 });
    assert.equal(pngSize(readFileSync(path)), size);
    assert.ok((await countColour(path, [0xd6, 0x27, 0x28])) > 300, 'no curve pixels');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('error histogram renders real, fake and threshold lines', async () => {
  const dir = tempDir();
  try {
    const real = [0, ...lognormal(3, 1000, 0.004)]; // a zero error must not break the log axis
    const fake = lognormal(4, 500, 0.4);
    const path = join(dir, 'hist.png');
    const svg = histogramSvg(real, fake, { thresholds: [{ label: 'balanced', value: 0.009 }, { label: 'optimal', value: 0.2 }] });
    assert.match(svg, /balanced 0\.009/);
    const size = await renderPng(svg, path);
    assert.equal(pngSize(readFileSync(path)), { width: 820, height: 440 });
    assert.equal(size, { width: 820, height: 440 });
    assert.ok((await countColour(path, [0x2c, 0xa0, 0x2c])) > 100, 'no threshold line');
    // Real and fake areas are drawn translucent over white: light blue and light red.
    assert.ok((await countColour(path, [0xb4, 0xd0, 0xe7])) > 500, 'no real histogram');
    assert.ok((await countColour(path, [0xf1, 0xb6, 0xb7])) > 500, 'no fake histogram');
    // Real errors only, all equal: still a valid picture.
    await renderPng(histogramSvg([0.01, 0.01], undefined), join(dir, 'one.png'));
    assert.equal(pngSize(readFileSync(join(dir, 'one.png'))), { width: 820, height: 440 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
