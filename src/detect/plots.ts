// Plots for calibration and evaluation reports, drawn as SVG text and rasterised to PNG by sharp
// (librsvg): an ROC curve, and a log-x histogram of real against fake errors with threshold lines.

import sharp from 'sharp';
import { writeFileAtomically } from '../node/atomic.js';
import type { Errors } from './metrics.js';

const REAL_COLOUR = '#1f77b4';
const FAKE_COLOUR = '#d62728';
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const frame = (width: number, height: number, rightMargin = 24): Frame => ({ width, height, left: 72, right: width - rightMargin, top: 44, bottom: height - 56 });

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Shortest readable label for a tick or threshold value. */
function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? String(Number(v.toPrecision(3))) : v.toExponential(1).replace('e-', 'e−');
}

function svgDocument(f: Frame, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}">`,
    `<rect width="${f.width}" height="${f.height}" fill="white"/>`,
    `<text x="${f.width / 2}" y="26" ${FONT} font-size="16" text-anchor="middle">${escapeXml(title)}</text>`,
    ...body,
    `<rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}" fill="none" stroke="#333"/>`,
    '</svg>',
  ].join('\n');
}

function axisLabels(f: Frame, x: string, y: string): string[] {
  return [
    `<text x="${(f.left + f.right) / 2}" y="${f.height - 14}" ${FONT} font-size="13" text-anchor="middle">${escapeXml(x)}</text>`,
    `<text x="18" y="${(f.top + f.bottom) / 2}" ${FONT} font-size="13" text-anchor="middle" transform="rotate(-90 18 ${(f.top + f.bottom) / 2})">${escapeXml(y)}</text>`,
  ];
}

function xTick(f: Frame, x: number, text: string): string {
  return `<line x1="${x}" y1="${f.bottom}" x2="${x}" y2="${f.bottom + 5}" stroke="#333"/><text x="${x}" y="${f.bottom + 19}" ${FONT} font-size="11" text-anchor="middle">${escapeXml(text)}</text>`;
}

function yTick(f: Frame, y: number, text: string): string {
  return `<line x1="${f.left - 5}" y1="${y}" x2="${f.left}" y2="${y}" stroke="#333"/><text x="${f.left - 8}" y="${y + 4}" ${FONT} font-size="11" text-anchor="end">${escapeXml(text)}</text>`;
}

/** Legend entries stacked from (x, y), on a white box so lines under it stay readable. */
function legend(x: number, y: number, entries: { colour: string; text: string; dashed?: boolean }[]): string[] {
  const width = 28 + 7.5 * Math.max(...entries.map((e) => e.text.length));
  return [
    `<rect x="${x - 8}" y="${y - 16}" width="${width + 16}" height="${entries.length * 18 + 10}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`,
    ...entries.map((e, i) => {
      const row = y + i * 18;
      return `<line x1="${x}" y1="${row - 4}" x2="${x + 22}" y2="${row - 4}" stroke="${e.colour}" stroke-width="3"${e.dashed ? ' stroke-dasharray="5,3"' : ''}/><text x="${x + 28}" y="${row}" ${FONT} font-size="12">${escapeXml(e.text)}</text>`;
    }),
  ];
}

export interface RocPlotOptions {
  title?: string;
  /** Shown in the legend when given. */
  auroc?: number;
  size?: number;
}

/** ROC curve (FPR on x, TPR on y, both linear 0..1) with the chance diagonal. */
export function rocPlotSvg(roc: { fpr: ArrayLike<number>; tpr: ArrayLike<number> }, options: RocPlotOptions = {}): string {
  const text = options.auroc === undefined ? 'detector' : `AUROC ${options.auroc.toFixed(4)}`;
  return rocCurvesSvg([{ roc, text }], options);
}

// Curves after the first: distinguishable in colour and, for grey-scale prints, by dash.
const CURVE_STYLES = [
  { colour: FAKE_COLOUR },
  { colour: '#1f77b4', dash: '8,3' },
  { colour: '#2ca02c', dash: '2,3' },
  { colour: '#9467bd', dash: '10,3,2,3' },
  { colour: '#8c564b', dash: '4,4' },
  { colour: '#7f7f7f', dash: '1,2' },
];

/** Several ROC curves on one plot (one per score), each with its legend text, e.g. its AUROC. */
export function rocCurvesSvg(curves: { roc: { fpr: ArrayLike<number>; tpr: ArrayLike<number> }; text: string }[], options: RocPlotOptions = {}): string {
  const f = frame(options.size ?? 520, options.size ?? 520);
  const x = (v: number) => f.left + v * (f.right - f.left);
  const y = (v: number) => f.bottom - v * (f.bottom - f.top);
  const lines = curves.map(({ roc }, i) => {
    // Runs of points along one axis only draw as their two ends.
    const keep: number[] = [];
    for (let k = 0; k < roc.fpr.length; k++) {
      const inner = k > 0 && k < roc.fpr.length - 1;
      const flat = (a: ArrayLike<number>) => a[k - 1] === a[k] && a[k] === a[k + 1];
      if (!inner || !(flat(roc.fpr) || flat(roc.tpr))) keep.push(k);
    }
    const points = keep.map((k) => `${x(roc.fpr[k]).toFixed(2)},${y(roc.tpr[k]).toFixed(2)}`).join(' ');
    const style = CURVE_STYLES[i % CURVE_STYLES.length];
    return `<polyline points="${points}" fill="none" stroke="${style.colour}" stroke-width="2.5"${style.dash ? ` stroke-dasharray="${style.dash}"` : ''}/>`;
  });
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1].flatMap((t) => [xTick(f, x(t), label(t)), yTick(f, y(t), label(t))]);
  const entries = curves.map((c, i) => ({ colour: CURVE_STYLES[i % CURVE_STYLES.length].colour, text: c.text, dashed: i % CURVE_STYLES.length > 0 }));
  const legendWidth = 36 + 7.5 * Math.max(...curves.map((c) => c.text.length));
  return svgDocument(f, options.title ?? 'ROC curve', [
    ...ticks,
    ...axisLabels(f, 'false positive rate (real flagged)', 'true positive rate (fake flagged)'),
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#999" stroke-dasharray="5,4"/>`,
    ...lines,
    // Bottom right: the one corner an ROC curve above the diagonal leaves empty.
    ...legend(f.right - legendWidth, f.bottom - 2 - 18 * curves.length, entries),
  ]);
}

export interface HistogramOptions {
  title?: string;
  thresholds?: { label: string; value: number }[];
  bins?: number;
  width?: number;
  height?: number;
}

const THRESHOLD_COLOURS = ['#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

/** Counts of errors per log-spaced bin, scaled so the fullest bin is 1. */
function logHistogram(values: Errors, lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const span = Math.log(hi / lo);
  for (let i = 0; i < values.length; i++) {
    // Errors at or below the lowest edge (zero included) fall in the first bin.
    const pos = values[i] <= lo ? 0 : Math.log(values[i] / lo) / span;
    counts[Math.min(bins - 1, Math.floor(pos * bins))]++;
  }
  const peak = Math.max(...counts);
  return counts.map((c) => c / peak);
}

/** The range of the log axis: every positive value inside, at least a decade wide, a little padded. */
function logRange(sets: Errors[]): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = 0;
  for (const set of sets) {
    for (let i = 0; i < set.length; i++) {
      if (set[i] > 0 && set[i] < lo) lo = set[i];
      if (set[i] > hi) hi = set[i];
    }
  }
  if (lo === Infinity) lo = hi = 1e-6;
  if (hi / lo < 10) {
    const mid = Math.sqrt(lo * hi);
    lo = mid / Math.sqrt(10);
    hi = mid * Math.sqrt(10);
  }
  return { lo: lo / 1.15, hi: hi * 1.15 };
}

/**
 * Histogram of real (and fake) errors on a log-x axis with vertical lines at the given thresholds.
 * Each set is scaled to its own peak: a noise set packed into one bin would otherwise flatten the
 * real one; the legend gives the counts.
 */
export function histogramSvg(real: Errors, fake: Errors | undefined, options: HistogramOptions = {}): string {
  if (real.length === 0) throw new RangeError('histogram: no real errors');
  const f = frame(options.width ?? 820, options.height ?? 440, 200);
  const bins = options.bins ?? 60;
  const thresholds = options.thresholds ?? [];
  const { lo, hi } = logRange([real, fake ?? [], thresholds.map((t) => t.value)]);
  const sets = [{ values: real, colour: REAL_COLOUR, name: `real (${real.length})` }];
  if (fake && fake.length > 0) sets.push({ values: fake, colour: FAKE_COLOUR, name: `fake (${fake.length})` });
  const x = (v: number) => f.left + (Math.log(v / lo) / Math.log(hi / lo)) * (f.right - f.left);
  const y = (v: number) => f.bottom - v * (f.bottom - f.top);
  const binX = (b: number) => f.left + (b / bins) * (f.right - f.left);

  const body: string[] = [];
  // Decades, plus 2x and 5x marks when the axis spans too few decades to read.
  const decades = Math.log10(hi / lo);
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of decades < 3 ? [1, 2, 5] : [1]) {
      const v = Number((m * 10 ** e).toPrecision(1));
      if (v >= lo && v <= hi) body.push(xTick(f, x(v), label(v)));
    }
  }
  for (const v of [0, 0.25, 0.5, 0.75, 1]) body.push(yTick(f, y(v), label(v)));
  body.push(...axisLabels(f, 'reconstruction error (MSE, log scale)', 'count per bin / peak count of the set'));
  for (const s of sets) {
    const path = [`M${binX(0)},${y(0)}`];
    logHistogram(s.values, lo, hi, bins).forEach((h, b) => path.push(`L${binX(b).toFixed(2)},${y(h).toFixed(2)}`, `L${binX(b + 1).toFixed(2)},${y(h).toFixed(2)}`));
    path.push(`L${binX(bins)},${y(0)}Z`);
    body.push(`<path d="${path.join(' ')}" fill="${s.colour}" fill-opacity="0.35" stroke="${s.colour}" stroke-width="1.5"/>`);
  }
  const colour = (i: number) => THRESHOLD_COLOURS[i % THRESHOLD_COLOURS.length];
  thresholds.forEach((t, i) => {
    const tx = x(Math.max(t.value, lo)).toFixed(2);
    body.push(`<line x1="${tx}" y1="${f.top}" x2="${tx}" y2="${f.bottom}" stroke="${colour(i)}" stroke-width="2" stroke-dasharray="6,4"/>`);
  });
  body.push(...legend(f.right + 22, f.top + 14, [
    ...sets.map((s) => ({ colour: s.colour, text: s.name })),
    ...thresholds.map((t, i) => ({ colour: colour(i), text: `${t.label} ${label(t.value)}`, dashed: true })),
  ]));
  return svgDocument(f, options.title ?? 'Reconstruction error: real vs fake', body);
}

/** Rasterises an SVG to a PNG file (written atomically); returns the image size. */
export async function renderPng(svg: string, path: string): Promise<{ width: number; height: number }> {
  const { data, info } = await sharp(Buffer.from(svg)).png().toBuffer({ resolveWithObject: true });
  await writeFileAtomically(path, data);
  return { width: info.width, height: info.height };
}
