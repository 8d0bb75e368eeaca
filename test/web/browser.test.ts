// The web app and the library in a real browser: Debian's Chromium, headless, WebGPU on its
// SwiftShader adapter, driven through the DevTools protocol (puppeteer-core, no browser download),
// the built page (dist/web/) served on 127.0.0.1. Results are compared with the Node engine on the
// same inputs: the self-test, the w=8 fixture checkpoint parsed in the page, the picker and drag and
// drop, PNG tensors bit for bit and JPEG decoding measured.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultThresholds, pickThreshold } from '../../src/detect/thresholds.js';
import { decodeRgb8, loadImageTensor } from '../../src/image/preprocess.js';
import { IMAGE_LIMITS } from '../../src/image/limits.js';
import { readNpy } from '../../src/io/npy.js';
import { loadModel } from '../../src/model.js';
import { testGpu } from '../helpers/gpu.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { requires } from '../helpers/skip.js';
import { manyScanJpeg } from '../hostile/build.js';

const suiteOf = suite('web/browser');

const CHROMIUM = process.env.RCAE_CHROMIUM ?? '/usr/bin/chromium';
// Setup installs Debian's chromium (tools/setup-system.sh), so under CI a missing one fails the run.
const chromiumMissing = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (tools/setup-system.sh installs Debian's chromium; RCAE_CHROMIUM names another binary)`;
const test = requires(suiteOf, chromiumMissing, { ci: true });
const webRoot = join(repoRoot, 'dist', 'web');
const samplesDir = join(repoRoot, 'samples');
const w8Checkpoint = fixture('model', 'w8', 'model-published.ckpt');
const TIMEOUT = 120_000;

let browser: Browser;
let server: Server;
let baseUrl: string;

interface SelftestRow {
  name: string;
  error: number;
  label: string;
}

const run = promisify(execFile);
const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

async function openPage(query = ''): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push((e as Error).message));
  // The app must load nothing from any other host.
  page.on('request', (r) => {
    if (!r.url().startsWith(baseUrl) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) problems.push(`request to ${r.url()}`);
  });
  (page as Page & { problems: string[] }).problems = problems;
  await page.goto(`${baseUrl}index.html${query}`);
  return page;
}

const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;

/** Waits until the page is ready again; an error it shows fails the test at once, with its text. */
async function whenReady(page: Page, extra = ''): Promise<void> {
  await page.waitForSelector(`#status[data-state="ready"]${extra}, #status[data-state="error"]`);
  const status = await page.$eval('#status', (e) => ({ state: (e as HTMLElement).dataset.state, text: e.textContent }));
  if (status.state === 'error') throw new Error(`the page reports: ${status.text}`);
}

suiteOf.before(async () => {
  if (chromiumMissing) return;
  if (!existsSync(join(webRoot, 'index.html'))) throw new Error(`${webRoot}/index.html missing: run node tools/build.mjs`);
  const serve = (await import(pathToFileURL(join(repoRoot, 'tools', 'serve-web.mjs')).href)) as { serveStatic(dir: string, port?: number): Promise<{ server: Server; url: string }> };
  ({ server, url: baseUrl } = await serve.serveStatic(webRoot));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-gpu-sandbox', '--window-size=800,1100'],
    defaultViewport: { width: 800, height: 1100 },
  });
});

suiteOf.after(async () => {
  await browser?.close();
  server?.close();
});

test('self-test page: every bundled sample gets the Node engine label, error within 1e-4 relative; PNG tensors equal to the bit', async () => {
  const page = await openPage('?selftest=1');
  await page.waitForSelector('#rcae-selftest[data-done="1"]');
  const text = await page.$eval('#rcae-selftest', (e) => e.textContent ?? '');
  const rows = JSON.parse(text) as SelftestRow[] | { error: string };
  if (!Array.isArray(rows)) throw new Error(`self-test failed in the browser: ${rows.error}`);
  const adapter = await page.$eval('#gpu-line', (e) => e.textContent);
  console.log(`  ${adapter}; ${await page.$eval('#status', (e) => e.textContent)}`);

  const names = JSON.parse(readFileSync(join(webRoot, 'samples', 'index.json'), 'utf8')) as string[];
  assert.equal(rows.map((r) => r.name), names);
  const model = await loadModel(undefined, { gpu: await testGpu() });
  try {
    const threshold = pickThreshold(await defaultThresholds(), 'balanced').value;
    for (const row of rows) {
      const tensor = await loadImageTensor(join(samplesDir, row.name));
      const [nodeError] = await model.reconstructionError(tensor);
      assert.ok(relative(row.error, nodeError) <= 1e-4, `${row.name}: browser ${row.error}, Node ${nodeError}`);
      assert.is(row.label, nodeError > threshold ? 'FAKE' : 'REAL', row.name);
      const inPage = await page.evaluate(async (name) => {
        const blob = await (await fetch(`samples/${name}`)).blob();
        const t = await (globalThis as unknown as { rcae: { imageTensor(b: Blob): Promise<Float32Array> } }).rcae.imageTensor(blob);
        let s = '';
        const bytes = new Uint8Array(t.buffer);
        for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
        return btoa(s);
      }, row.name);
      assert.is(inPage, base64(new Uint8Array(tensor.buffer)), `${row.name}: browser tensor differs from Node's`);
    }
  } finally {
    model.dispose();
  }
  assert.ok(rows.some((r) => r.label === 'FAKE') && rows.some((r) => r.label === 'REAL'));

  // The page as the README shows it (RCAE_UPDATE_SCREENSHOT=1 also refreshes docs/web.png).
  const out = join(repoRoot, 'dist', 'test-output');
  mkdirSync(out, { recursive: true });
  const shot = join(out, 'web.png');
  await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
  const meta = await sharp(shot).metadata();
  assert.ok(meta.width === 800 && (meta.height ?? 0) >= 900, `screenshot ${meta.width}x${meta.height}`);
  if (process.env.RCAE_UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(repoRoot, 'docs', 'web.png'));
  assert.equal(problemsOf(page), []);
  await page.close();
});

test('w=8 fixture checkpoint parsed in the browser: errors on the same tensors equal the Node engine and PyTorch within 1e-4 relative', async () => {
  const page = await openPage();
  await whenReady(page);
  const input = readNpy(fixture('model', 'w8', 'input-cifar.npy')).data;
  const golden = readNpy(fixture('model', 'w8', 'mse-cifar.npy')).data;
  const browserErrors = await page.evaluate(
    async (ckpt, x) => {
      const decode = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      const api = (globalThis as unknown as { rcae: typeof import('../../src/browser/index.js') }).rcae;
      const model = await api.loadModel(decode(ckpt));
      try {
        return Array.from(await model.reconstructionError(new Float32Array(decode(x).buffer)));
      } finally {
        model.dispose();
      }
    },
    base64(readFileSync(w8Checkpoint)),
    base64(new Uint8Array(input.buffer, input.byteOffset, input.byteLength)),
  );
  const model = await loadModel(w8Checkpoint, { gpu: await testGpu() });
  try {
    const nodeErrors = await model.reconstructionError(input);
    assert.is(browserErrors.length, nodeErrors.length);
    const worst = Math.max(...browserErrors.map((e, i) => relative(e, nodeErrors[i])));
    const worstGolden = Math.max(...browserErrors.map((e, i) => relative(e, golden[i])));
    console.log(`  w=8 fixture, 4 CIFAR-10 images: browser vs Node ${worst.toExponential(2)}, browser vs PyTorch ${worstGolden.toExponential(2)} max relative`);
    assert.ok(worst <= 1e-4 && worstGolden <= 1e-4, `browser ${browserErrors}, Node ${nodeErrors}, PyTorch ${golden}`);
  } finally {
    model.dispose();
  }
  assert.equal(problemsOf(page), []);
  await page.close();
});

// The kernel compile gate in the page, on SwiftShader: every shader module it has the features for
// (it lacks shader-f16 and subgroup matrices). Pipelines are left out: SwiftShader compiles a GEMM
// tile for seconds, and Chromium's watchdog stops its GPU process; the tests above build and run the
// pipelines of the adapter's own kernels.
test('the compile gate in the page: every kernel module SwiftShader has the features for compiles', async () => {
  const page = await openPage();
  await whenReady(page);
  const report = await page.evaluate(async () => {
    const api = (globalThis as unknown as { rcae: typeof import('../../src/browser/index.js') }).rcae;
    const gpu = await api.Gpu.open();
    try {
      return await api.runGate(gpu, api.gateCases(gpu), { pipelinesOf: new Set() });
    } finally {
      gpu.destroy();
    }
  });
  console.log(`  compile gate on ${report.device}: ${report.modules.compiled} modules compiled, ${report.modules.skipped} skipped (${report.skipped.filter((s) => /lacks/.test(s.reason)).map((s) => s.reason).join('; ')})`);
  assert.equal(report.failures, []);
  assert.ok(report.modules.compiled >= 100, `${report.modules.compiled} modules`);
  assert.equal(problemsOf(page), []);
  await page.close();
});

test('picking a checkpoint and dropping images: the page scores them with that checkpoint, as the Node engine does', async () => {
  const page = await openPage();
  await whenReady(page);
  const picker = (await page.$('input#picker')) as ElementHandle<HTMLInputElement> | null;
  await picker!.uploadFile(w8Checkpoint);
  await page.waitForFunction(() => document.getElementById('model-line')?.textContent?.includes('model-published.ckpt') || document.getElementById('status')?.dataset.state === 'error');
  await whenReady(page);
  const dropped = ['scene-2.png', 'noise-1.png'];
  await page.evaluate(async (names) => {
    const transfer = new DataTransfer();
    for (const name of names) transfer.items.add(new File([await (await fetch(`samples/${name}`)).blob()], name, { type: 'image/png' }));
    document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, dropped);
  await whenReady(page, '[data-runs="1"]');
  const cards = await page.$$eval('.card', (els) => els.map((e) => ({ name: (e as HTMLElement).dataset.name, error: Number((e as HTMLElement).dataset.error), label: (e as HTMLElement).dataset.label })));
  assert.equal(cards.map((c) => c.name), dropped);
  const model = await loadModel(w8Checkpoint, { gpu: await testGpu() });
  try {
    const threshold = pickThreshold(await defaultThresholds(), 'balanced').value;
    for (const card of cards) {
      const [nodeError] = await model.reconstructionError(await loadImageTensor(join(samplesDir, card.name!)));
      assert.ok(relative(card.error, nodeError) <= 1e-4, `${card.name}: browser ${card.error}, Node ${nodeError}`);
      assert.is(card.label, nodeError > threshold ? 'FAKE' : 'REAL');
    }
  } finally {
    model.dispose();
  }
  assert.ok((await page.$eval('#histogram', (c) => (c as HTMLCanvasElement).toDataURL().length)) > 2000, 'histogram drawn');
  assert.equal(problemsOf(page), []);
  await page.close();
});

test('JPEG: the browser decoder against sharp (libjpeg) on the same file, measured', async () => {
  const page = await openPage();
  const worst: number[] = [];
  // A smooth scene enlarged to photo-like size and pure noise (the hardest case for the IDCT), 4:2:0 and 4:4:4.
  const cases = [
    { name: 'scene-1 400x300', image: () => sharp(join(samplesDir, 'scene-1.png')).resize(400, 300) },
    { name: 'noise-1', image: () => sharp(join(samplesDir, 'noise-1.png')) },
  ];
  for (const { name, image } of cases) for (const [quality, chromaSubsampling] of [[95, '4:4:4'], [75, '4:2:0']] as const) {
    const jpeg = await image().jpeg({ quality, chromaSubsampling }).toBuffer();
    const node = await decodeRgb8(jpeg, `${name}.jpg`);
    const rgb = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const api = (globalThis as unknown as { rcae: typeof import('../../src/browser/index.js') }).rcae;
      return Array.from((await api.decodeImage(new Blob([bytes], { type: 'image/jpeg' }), 'test.jpg')).rgb);
    }, base64(jpeg));
    assert.is(rgb.length, node.data.length);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < rgb.length; i++) {
      const d = Math.abs(rgb[i] - node.data[i]);
      max = Math.max(max, d);
      sum += d;
    }
    console.log(`  JPEG ${name} quality ${quality} ${chromaSubsampling}: browser vs sharp max ${max} levels, mean ${(sum / rgb.length).toFixed(3)}`);
    worst.push(max);
  }
  // Both decoders follow the JPEG standard; their IDCT and chroma upsampling may round differently.
  assert.ok(Math.max(...worst) <= 4, `JPEG decoders differ by up to ${Math.max(...worst)} levels`);
  await page.close();
});

test('the page refuses a JPEG with more scans than the limit before decoding it, naming the file', async () => {
  const page = await openPage();
  const message = await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const api = (globalThis as unknown as { rcae: typeof import('../../src/browser/index.js') }).rcae;
    return api.decodeImage(new Blob([bytes], { type: 'image/jpeg' }), 'scans.jpg').then(() => 'decoded', (err: Error) => err.message);
  }, base64(manyScanJpeg(IMAGE_LIMITS.maxJpegScans + 1)));
  assert.is(message, `scans.jpg: cannot decode image: JPEG has more than ${IMAGE_LIMITS.maxJpegScans} scans`);
  await page.close();
});

test('chromium --headless --dump-dom alone returns the finished self-test', async () => {
  const { stdout } = await run(CHROMIUM, ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--dump-dom', `${baseUrl}index.html?selftest=1`], { timeout: TIMEOUT, maxBuffer: 16 << 20 });
  const pre = /<pre id="rcae-selftest"[^>]*data-done="1"[^>]*>([^<]*)<\/pre>/.exec(stdout);
  assert.ok(pre, `no finished self-test in the dumped DOM: ${stdout.slice(0, 300)}`);
  const rows = JSON.parse(pre[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as SelftestRow[];
  const names = JSON.parse(readFileSync(join(webRoot, 'samples', 'index.json'), 'utf8')) as string[];
  assert.equal(rows.map((r) => r.name), names);
  assert.ok(rows.every((r) => Number.isFinite(r.error) && (r.label === 'REAL' || r.label === 'FAKE')));
});

test('without WebGPU the page says so, in the status line and in the self-test result, instead of staying blank', async () => {
  const expectMessage = async (page: Page, message: RegExp) => {
    await page.waitForSelector('#rcae-selftest[data-done="1"]');
    const status = await page.$eval('#status', (e) => ({ text: e.textContent ?? '', error: e.classList.contains('error') }));
    assert.ok(status.error && message.test(status.text), status.text);
    assert.match(await page.$eval('#rcae-selftest', (e) => e.textContent ?? ''), /^\{"error":/);
    await page.close();
  };
  // A browser without the API at all (an old one, or a page served over plain HTTP from elsewhere).
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
  await page.goto(`${baseUrl}index.html?selftest=1`);
  await expectMessage(page, /needs WebGPU, which this browser does not offer/);
  // The API without an adapter: Chromium headless without --enable-unsafe-webgpu.
  const plain = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await plain.newPage();
    await page.goto(`${baseUrl}index.html?selftest=1`);
    await expectMessage(page, /offers no adapter/);
  } finally {
    await plain.close();
  }
});

suiteOf.run();
