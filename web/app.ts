// The rcae web app: drop images (and, optionally, a checkpoint or thresholds file) and see, per
// image, REAL/FAKE at a chosen level, the error against its threshold, the input, the
// reconstruction and the error heat map, computed on this machine's GPU through WebGPU. Static
// files only: the model and samples are fetched from beside the page, nothing from any other host.
// `?selftest=1` scores the bundled samples with the bundled model and writes
// [{"name","error","label"}] into #rcae-selftest (data-done="1" when finished) for headless checks.
import {
  Gpu,
  GpuError,
  InputError,
  LEVELS,
  defaultThresholds,
  errorMaps,
  heatMap,
  imageTensor,
  loadModel,
  parseThresholdsBytes,
  pickThreshold,
  type Model,
  type ThresholdsDocument,
} from '../src/browser/index.js';
import * as rcae from '../src/browser/index.js';

// The library itself, for the browser console and for tests (window.rcae.imageTensor(blob), ...).
Object.assign(globalThis, { rcae });

// `chromium --headless --dump-dom` prints the page at its load event, which comes long before the
// self-test ends. So in self-test mode the document is reopened with the same markup (without this
// script) and closed, which fires the load event, only once the result is written.
const isSelftest = new URLSearchParams(location.search).get('selftest') === '1';
if (isSelftest) {
  const markup = document.documentElement.outerHTML.replace(/<script[^>]*app\.js[^>]*><\/script>/, '');
  document.open();
  document.write(`<!doctype html>${markup}`);
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusLine = $<HTMLParagraphElement>('status');
const selftestBox = $<HTMLPreElement>('rcae-selftest');
const levelSelect = $<HTMLSelectElement>('level');

interface Scored {
  name: string;
  input: Float32Array;
  reconstruction: Float32Array;
  error: number;
}

let gpu: Gpu;
let model: Model;
let modelName = 'bundled default model';
let thresholds: ThresholdsDocument | undefined;
let thresholdsName = 'bundled thresholds';
/** The last batch's inputs, scored again when the model changes. */
let inputs: { name: string; tensor: Float32Array }[] = [];
let scored: Scored[] = [];
let runs = 0;

function setStatus(text: string, state: 'busy' | 'ready' | 'error'): void {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
  statusLine.classList.toggle('error', state === 'error');
}

const CHECKPOINT = /\.(ckpt|pt|pth|safetensors|bin)$/i;

async function useModel(source: File | undefined): Promise<void> {
  setStatus(`Loading ${source ? source.name : 'the bundled model'}...`, 'busy');
  const next = await loadModel(source, { gpu });
  try {
    // One sample through the model compiles its GPU pipelines, so samples/s measures the work, not that.
    await next.reconstructionError(new Float32Array(next.imageSize));
  } catch (err) {
    next.dispose();
    throw err;
  }
  model?.dispose();
  model = next;
  modelName = source ? source.name : 'bundled default model';
  if (!source) {
    thresholds = await defaultThresholds();
    thresholdsName = 'bundled thresholds';
    fillLevels();
  }
  const a = model.arch;
  $('model-line').textContent =
    `Model: ${modelName}, base width ${a.baseWidth}, latent ${a.latentDim}, ${model.parameterCount.toLocaleString('en')} parameters; ` +
    `thresholds: ${thresholds ? thresholdsName : 'none (pick a level file)'}${source && thresholds ? ' (calibrated for the bundled model)' : ''}`;
}

function fillLevels(): void {
  const levels = thresholds ? Object.keys(thresholds.reconstruction_thresholds.thresholds) : [...LEVELS];
  const wanted = levelSelect.value || 'balanced';
  levelSelect.replaceChildren(...levels.map((name) => new Option(name, name)));
  levelSelect.value = levels.includes(wanted) ? wanted : levels[0];
}

function threshold(): { level: string; value: number } | undefined {
  if (!thresholds) return undefined;
  return pickThreshold(thresholds, levelSelect.value, thresholdsName);
}

async function score(batch: { name: string; tensor: Float32Array }[]): Promise<void> {
  if (batch.length === 0) return;
  inputs = batch;
  setStatus(`Scoring ${batch.length} image${batch.length > 1 ? 's' : ''}...`, 'busy');
  const perSample = model.imageSize;
  const all = new Float32Array(batch.length * perSample);
  batch.forEach((b, i) => all.set(b.tensor, i * perSample));
  const start = performance.now();
  const { reconstruction, error } = await model.reconstructWithError(all);
  const seconds = (performance.now() - start) / 1000;
  scored = batch.map((b, i) => ({
    name: b.name,
    input: b.tensor,
    reconstruction: reconstruction.subarray(i * perSample, (i + 1) * perSample),
    error: error[i],
  }));
  render();
  runs++;
  statusLine.dataset.runs = String(runs);
  setStatus(`Scored ${batch.length} image${batch.length > 1 ? 's' : ''} in ${seconds.toFixed(2)} s: ${(batch.length / seconds).toFixed(1)} samples/s (upload, forward pass and readback)`, 'ready');
}

function labelOf(error: number): string {
  const t = threshold();
  return t ? (error > t.value ? 'FAKE' : 'REAL') : '?';
}

function render(): void {
  const t = threshold();
  const size = Math.round(Math.sqrt(model.imageSize / 3));
  // One colour scale for the whole batch, so heat maps compare across images.
  const heat = scored.map((s) => errorMaps('mse', s.input, s.reconstruction, 1, 3, size));
  const heatMax = Math.max(1e-12, ...heat.map((h) => h.reduce((a, b) => Math.max(a, b), 0)));
  const cards = scored.map((s, i) => {
    const card = document.createElement('article');
    card.className = 'card';
    const label = labelOf(s.error);
    Object.assign(card.dataset, { name: s.name, error: String(s.error), label });
    const title = document.createElement('h3');
    title.textContent = s.name;
    const line = document.createElement('p');
    const badge = document.createElement('span');
    badge.className = `label ${label}`;
    badge.textContent = label;
    line.append(badge, ` error ${s.error.toPrecision(5)} ${t ? `${s.error > t.value ? '>' : '<='} ${t.value.toPrecision(5)} (${t.level})` : ''}`);
    const images = document.createElement('div');
    images.className = 'images';
    images.append(
      figure('input', imageCanvas(s.input, size)),
      figure('reconstruction', imageCanvas(s.reconstruction, size)),
      figure('error', heatCanvas(heat[i], size, heatMax)),
    );
    card.append(title, line, images);
    return card;
  });
  $('results').replaceChildren(...cards);
  $('summary').hidden = scored.length === 0;
  const fakes = scored.filter((s) => labelOf(s.error) === 'FAKE').length;
  $('counts').textContent = t ? `${fakes} of ${scored.length} flagged FAKE (error > ${t.value.toPrecision(5)}, level ${t.level})` : `${scored.length} scored; no thresholds`;
  drawHistogram(scored.map((s) => s.error));
}

function figure(caption: string, canvas: HTMLCanvasElement): HTMLElement {
  const f = document.createElement('figure');
  const c = document.createElement('figcaption');
  c.textContent = caption;
  f.append(canvas, c);
  return f;
}

function imageCanvas(chw: Float32Array, size: number): HTMLCanvasElement {
  const canvas = Object.assign(document.createElement('canvas'), { width: size, height: size });
  const pixels = new ImageData(size, size);
  const plane = size * size;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) pixels.data[p * 4 + c] = Math.round(Math.min(1, Math.max(0, (chw[c * plane + p] + 1) / 2)) * 255);
    pixels.data[p * 4 + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
  return canvas;
}

/** The mse anomaly map in the CLI's colour ramp (image/anomaly-maps.ts), `max` at its top. */
function heatCanvas(errors: Float32Array, size: number, max: number): HTMLCanvasElement {
  const canvas = Object.assign(document.createElement('canvas'), { width: size, height: size });
  const pixels = new ImageData(size, size);
  pixels.data.set(heatMap(errors, size, size, max, 4).data);
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
  return canvas;
}

const LEVEL_COLOURS: Record<string, string> = { strict: '#8250df', balanced: '#0969da', sensitive: '#1a7f37', optimal: '#bc4c00' };

/** Histogram of the batch's errors on a log axis, with every threshold level marked. */
function drawHistogram(errors: number[]): void {
  const canvas = $<HTMLCanvasElement>('histogram');
  const g = canvas.getContext('2d')!;
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  if (errors.length === 0) return;
  const levels = thresholds ? Object.entries(thresholds.reconstruction_thresholds.thresholds).map(([name, l]) => ({ name, value: l.value })) : [];
  const all = [...errors, ...levels.map((l) => l.value)].filter((v) => v > 0);
  const lo = Math.log10(Math.min(...all) / 1.5);
  const hi = Math.log10(Math.max(...all) * 1.5);
  const left = 40;
  const right = width - 10;
  const top = 28;
  const bottom = height - 28;
  const x = (v: number) => left + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (right - left);
  const bins = new Array<number>(48).fill(0);
  for (const e of errors) bins[Math.min(bins.length - 1, Math.max(0, Math.floor(((x(e) - left) / (right - left)) * bins.length)))]++;
  const tallest = Math.max(...bins);
  const binWidth = (right - left) / bins.length;
  g.fillStyle = '#8c959f';
  bins.forEach((count, i) => {
    const h = (count / tallest) * (bottom - top);
    g.fillRect(left + i * binWidth + 1, bottom - h, binWidth - 2, h);
  });
  g.strokeStyle = '#57606a';
  g.beginPath();
  g.moveTo(left, bottom);
  g.lineTo(right, bottom);
  g.stroke();
  g.fillStyle = '#57606a';
  g.font = '12px system-ui, sans-serif';
  g.textAlign = 'center';
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) for (const m of [1, 2, 5]) {
    const v = m * 10 ** d;
    if (Math.log10(v) < lo || Math.log10(v) > hi) continue;
    g.fillText(String(Number(v.toPrecision(1))), x(v), bottom + 16);
  }
  g.textAlign = 'left';
  g.fillText(`count (max ${tallest})`, 4, 14);
  const chosen = levelSelect.value;
  levels.forEach((l, i) => {
    g.strokeStyle = g.fillStyle = LEVEL_COLOURS[l.name] ?? '#57606a';
    g.lineWidth = l.name === chosen ? 3 : 1.5;
    g.beginPath();
    g.moveTo(x(l.value), top - 4);
    g.lineTo(x(l.value), bottom);
    g.stroke();
    g.fillText(`${l.name} ${l.value.toPrecision(3)}`, Math.min(x(l.value) + 3, right - 110), top + 4 + 13 * i);
  });
  g.lineWidth = 1;
}

async function tensorsOf(files: File[]): Promise<{ name: string; tensor: Float32Array }[]> {
  const size = Math.round(Math.sqrt(model.imageSize / 3));
  const out = [];
  for (const file of files) out.push({ name: file.name, tensor: await imageTensor(file, size, file.name) });
  return out;
}

async function handleFiles(list: FileList | File[]): Promise<void> {
  const files = [...list];
  const checkpoint = files.find((f) => CHECKPOINT.test(f.name));
  const thresholdsFile = files.find((f) => /\.json$/i.test(f.name));
  const images = files.filter((f) => f !== checkpoint && f !== thresholdsFile);
  try {
    if (thresholdsFile) {
      thresholds = parseThresholdsBytes(new Uint8Array(await thresholdsFile.arrayBuffer()), thresholdsFile.name);
      thresholdsName = thresholdsFile.name;
      fillLevels();
    }
    if (checkpoint) await useModel(checkpoint);
    if (images.length > 0) await score(await tensorsOf(images));
    else if (inputs.length > 0) await score(inputs);
    else setStatus('Ready: drop images to score them.', 'ready');
  } catch (err) {
    setStatus((err as Error).message, 'error');
  }
}

function wireInput(): void {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer?.files.length) void handleFiles(e.dataTransfer.files);
  });
  const picker = $<HTMLInputElement>('picker');
  picker.addEventListener('change', () => {
    if (picker.files?.length) void handleFiles(picker.files);
    picker.value = '';
  });
  levelSelect.addEventListener('change', () => scored.length > 0 && render());
  $('use-default').addEventListener('click', () => {
    void useModel(undefined)
      .then(() => (inputs.length > 0 ? score(inputs) : setStatus('Ready: drop images to score them.', 'ready')))
      .catch((err: Error) => setStatus(err.message, 'error'));
  });
}

/** Scores samples/ (listed in samples/index.json) with the bundled model, at the balanced level. */
async function selftest(): Promise<void> {
  const names = JSON.parse(new TextDecoder().decode(await fetchBytes('samples/index.json'))) as string[];
  const files = await Promise.all(names.map(async (n) => new File([await fetchBytes(`samples/${n}`)], n)));
  levelSelect.value = 'balanced';
  await score(await tensorsOf(files));
  selftestBox.textContent = JSON.stringify(scored.map((s) => ({ name: s.name, error: s.error, label: labelOf(s.error) })));
}

async function fetchBytes(url: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(url);
  if (!response.ok) throw new InputError(`${url}: HTTP ${response.status}`, { subject: url });
  return new Uint8Array(await response.arrayBuffer());
}

async function main(): Promise<void> {
  try {
    if (!('gpu' in navigator)) {
      throw new GpuError('This page needs WebGPU, which this browser does not offer. Use a current Chrome or Edge (113+), Safari 26 or Firefox 141+ on a supported system, or enable WebGPU in the browser settings.');
    }
    setStatus('Opening the GPU...', 'busy');
    gpu = await Gpu.open();
    const a = gpu.adapter;
    $('gpu-line').textContent = `Adapter: ${[a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' ') || 'unnamed'}${a.isSoftware ? ' (software)' : ''}; features: ${[...gpu.features].sort().join(', ')}`;
    wireInput();
    await useModel(undefined);
    setStatus('Ready: drop images to score them.', 'ready');
    if (isSelftest) await selftest();
  } catch (err) {
    const message = (err as Error).message;
    $('gpu-line').textContent = 'No usable WebGPU adapter.';
    setStatus(message, 'error');
    if (isSelftest) selftestBox.textContent = JSON.stringify({ error: message });
  } finally {
    if (isSelftest) {
      selftestBox.dataset.done = '1';
      document.close();
    }
  }
}

void main();
