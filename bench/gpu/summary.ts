// summary.md of a GPU run (bench/gpu/run-on-gpu.sh): what ran and how long, one throughput table ready
// to paste into bench/NOTES.md (rcae f32 and f16 against PyTorch fp32 with TF32 off, TF32 and fp16
// autocast, with the ratios), the five slowest layers per precision with their kernel and tile, any
// kernel variant that fell back, how batches were chunked, and what tuning found. Made from the JSON
// files alone, so it can be rebuilt from results.tar.gz anywhere.
//
// Usage: node dist/bench/gpu/summary.js RESULTS_DIR [--out FILE]
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type AdapterInfo, type BenchFile, type RunResults, type TuneFile, readResults } from './results.js';

/** The targets of issue 18 at batch 256, against the PyTorch variant each precision answers to. */
const TARGETS = [
  { precision: 'f32', samplesPerS: 3600, torch: 'fp32', label: 'PyTorch fp32' },
  { precision: 'f16', samplesPerS: 10000, torch: 'fp16_autocast', label: 'PyTorch fp16 autocast' },
] as const;
const TARGET_BATCH = 256;
const SLOWEST = 5;

function rate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
}

/** rcae's figures per batch at one precision: GPU-only where measured, and end-to-end with its chunk count. */
interface RcaeCell {
  gpu?: number;
  e2e?: number;
  chunks?: number;
  outputsMatch?: boolean | null;
}

function rcaeByBatch(benches: BenchFile[], precision: string): Map<number, RcaeCell> {
  const cells = new Map<number, RcaeCell>();
  for (const b of benches.filter((x) => x.model.precision === precision)) {
    for (const r of b.runs.filter((x) => x.engine === 'rcae')) {
      const cell = cells.get(r.batch) ?? {};
      if (r.timing === 'gpu') cell.gpu ??= r.samples_per_s;
      else if (cell.e2e === undefined) Object.assign(cell, { e2e: r.samples_per_s, chunks: r.chunks, outputsMatch: r.outputs_match });
      cells.set(r.batch, cell);
    }
  }
  return cells;
}

/** The GPU-only figure, else the end-to-end one marked as such (a chunked batch has no GPU-only row). */
const rcaeFigure = (c: RcaeCell | undefined): number | undefined => c?.gpu ?? c?.e2e;
const rcaeText = (c: RcaeCell | undefined): string =>
  c === undefined ? '-' : c.gpu !== undefined ? rate(c.gpu) : c.e2e !== undefined ? `${rate(c.e2e)} (end-to-end, ${c.chunks ?? '?'} chunks)` : '-';

function throughput(r: RunResults, benches: BenchFile[]): string[] {
  const f32 = rcaeByBatch(benches, 'f32');
  const f16 = rcaeByBatch(benches, 'f16');
  const torch = new Map<string, number>();
  for (const t of r.torch?.runs ?? []) torch.set(`${t.variant}@${t.batch}`, t.samples_per_s);
  const torchAt = (variant: string, batch: number) => torch.get(`${variant}@${batch}`);
  const best = (batch: number) => [...torch].filter(([k]) => k.endsWith(`@${batch}`)).sort((a, b) => b[1] - a[1])[0];
  const batches = [...new Set([...f32.keys(), ...f16.keys()])].sort((a, b) => a - b);
  const lines = [
    '## Throughput (samples/s)',
    '',
    'rcae: forward pass with the data resident on the GPU (median over iterations); PyTorch: CUDA-event-timed',
    'forwards of the same architecture (median). Ratios: rcae f32 / PyTorch fp32 (TF32 off), rcae f16 / PyTorch fp16 autocast.',
    '',
    '| batch | rcae f32 | rcae f16 | PyTorch fp32 (TF32 off) | PyTorch TF32 | PyTorch fp16 autocast | best PyTorch | f32 / fp32 | f16 / fp16 autocast |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const batch of batches) {
    const top = best(batch);
    lines.push(`| ${batch} | ${rcaeText(f32.get(batch))} | ${rcaeText(f16.get(batch))} | ${rate(torchAt('fp32', batch))} | ${rate(torchAt('tf32', batch))} | ${rate(torchAt('fp16_autocast', batch))} | ${top ? `${rate(top[1])} (${top[0].split('@')[0]})` : '-'} | ${ratio(rcaeFigure(f32.get(batch)), torchAt('fp32', batch))} | ${ratio(rcaeFigure(f16.get(batch)), torchAt('fp16_autocast', batch))} |`);
  }
  if (batches.length === 0) lines.push('| - | no rcae bench results | | | | | | | |');
  lines.push('', 'End to end (upload, forward, readback), with the output check of sample 0 against the float64 CPU reference:', '');
  lines.push('| batch | rcae f32 | chunks | output | rcae f16 | chunks | output |', '| ---: | ---: | ---: | --- | ---: | ---: | --- |');
  const check = (c: RcaeCell | undefined) => (c?.outputsMatch === undefined || c.outputsMatch === null ? '-' : c.outputsMatch ? 'matches' : 'MISMATCH');
  for (const batch of batches) {
    const [a, b] = [f32.get(batch), f16.get(batch)];
    lines.push(`| ${batch} | ${rate(a?.e2e)} | ${a?.chunks ?? '-'} | ${check(a)} | ${rate(b?.e2e)} | ${b?.chunks ?? '-'} | ${check(b)} |`);
  }
  const targets = TARGETS.map((t) => {
    const mine = rcaeFigure((t.precision === 'f32' ? f32 : f16).get(TARGET_BATCH));
    const theirs = torchAt(t.torch, TARGET_BATCH);
    if (mine === undefined) return `${t.precision}: not measured`;
    const met = mine >= t.samplesPerS && (theirs === undefined || mine >= theirs);
    return `${t.precision} ${rate(mine)} (target ${rate(t.samplesPerS)} and >= 1.0x ${t.label}: ${ratio(mine, theirs)}) ${theirs === undefined ? 'no PyTorch figure' : met ? 'met' : 'not met'}`;
  });
  lines.push('', `Targets at batch ${TARGET_BATCH}: ${targets.join('; ')}.`);
  return lines;
}

function slowestLayers(benches: BenchFile[]): string[] {
  const lines = ['## Slowest layers', ''];
  for (const precision of ['f32', 'f16']) {
    // The profile of the largest batch that has one.
    const profiled = benches.filter((b) => b.model.precision === precision && b.layers && b.layers.rows.length > 0).sort((a, b) => b.layers!.batch - a.layers!.batch)[0];
    if (!profiled) {
      lines.push(`${precision}: no per-layer profile.`, '');
      continue;
    }
    const { layers } = profiled;
    const quantization = (profiled.adapter as { timestamp_quantization?: string }).timestamp_quantization ?? 'unknown';
    lines.push(`${precision}, batch ${layers!.batch} (${layers!.method}; timestamp quantization ${quantization}):`, '');
    lines.push('| layer | output shape | kernel and tile | ms | % of forward | GFLOP/s |', '| --- | --- | --- | ---: | ---: | ---: |');
    for (const l of [...layers!.rows].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST)) {
      lines.push(`| ${l.name} | ${l.shape} | ${l.kernel} | ${l.ms.toFixed(3)} | ${l.pct_of_total.toFixed(1)} | ${rate(l.gflops)} |`);
    }
    lines.push('');
  }
  return lines;
}

/** Kernel variants that fell back, from every bench and tune file that reports them (rcae builds before the field report none). */
function fallbacks(benches: BenchFile[], tunes: TuneFile[]): string[] {
  const reported = [
    ...benches.filter((b) => Array.isArray(b.fallbacks)).map((b) => ({ who: b.model.precision, list: b.fallbacks! })),
    ...tunes.filter((t) => Array.isArray(t.fallbacks)).map((t) => ({ who: `${t.precision} (rcae tune)`, list: t.fallbacks! })),
  ];
  if (reported.length === 0) return [];
  const rows = reported.flatMap(({ who, list }) => list.map((f) => `| ${who} | ${f.variant} | ${f.to} | ${String(f.reason).replace(/\|/g, '\\|').replace(/\s+/g, ' ')} |`));
  if (rows.length === 0) return ['## Fallbacks', '', 'None: every kernel variant compiled and ran.', ''];
  return ['## Fallbacks', '', '| precision | variant | fell back to | reason |', '| --- | --- | --- | --- |', ...new Set(rows), ''];
}

function chunking(benches: BenchFile[]): string[] {
  const lines: string[] = [];
  for (const b of benches) {
    const rcae = b.runs.filter((r) => r.engine === 'rcae' && r.timing === 'end-to-end');
    const chunked = rcae.filter((r) => (r.chunks ?? 1) > 1).map((r) => `batch ${r.batch} ran in ${r.chunks} chunks`);
    const batches = rcae.map((r) => r.batch).join(', ');
    lines.push(`- ${b.model.precision}, batch ${batches}: at most ${b.chunking.max_chunk} samples per command buffer, set by ${b.chunking.reason}; ${chunked.length > 0 ? chunked.join(', ') : 'one chunk'}`);
  }
  return lines.length === 0 ? [] : ['## Chunking', '', ...lines, ''];
}

function tuning(r: RunResults): string[] {
  if (r.tunes.length === 0) return [];
  const lines = ['## Tuning (not used by the benches above; a second call can carry tune.json)', ''];
  lines.push('| precision | batch | layers tuned | left on the heuristic | tuned ms (sum) | heuristic ms (sum) | gain | timing |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const { result: t } of r.tunes) {
    const timing = t.timing ? `${t.timing.method}, samples >= ${t.timing.floor_ms} ms, quantization ${t.timing.timestamp_quantization ?? 'unknown'}` : '-';
    lines.push(`| ${t.precision} | ${t.batch} | ${t.layers.length} | ${t.untuned?.length ?? 0} | ${t.total_ms.toFixed(3)} | ${t.heuristic_total_ms.toFixed(3)} | ${ratio(t.heuristic_total_ms, t.total_ms)} | ${timing} |`);
  }
  return [...lines, ''];
}

function header(r: RunResults, benches: BenchFile[]): string[] {
  const first = benches[0];
  const a = r.info?.adapter ?? (first?.adapter as AdapterInfo | undefined);
  const device = r.gpuName ?? (a ? `${a.vendor ?? ''} ${a.device || a.description || ''}`.trim() : 'unknown device');
  const fragment = r.info?.fragment ? `${r.info.fragment.m}x${r.info.fragment.n}x${r.info.fragment.k}` : 'none';
  const lines = [
    `# rcae GPU run${first ? `: ${first.date}` : ''}`,
    '',
    `Device: ${device}${r.driver ? `, driver ${r.driver}` : ''}; Dawn adapter ${a ? `${a.vendor ?? ''} ${a.device || a.description || ''} (${a.backend ?? '?'})` : 'not opened'}; subgroup-matrix fragment ${fragment}; toggles ${r.info?.toggles?.join(', ') || 'none'}.`,
  ];
  if (first) lines.push(`rcae ${first.versions.rcae} (commit ${first.commit ?? 'unknown'}), Node ${first.versions.node}; model ${first.model.source}, ${first.model.gflop_per_sample.toFixed(3)} GFLOP/sample.`);
  if (r.torch) lines.push(`PyTorch ${r.torch.torch} on ${r.torch.device} (${r.torch.device_type}${r.torch.cuda ? `, CUDA ${r.torch.cuda}, cuDNN ${r.torch.cudnn}` : ''}).`);
  return [...lines, ''];
}

function steps(r: RunResults): string[] {
  const lines = ['## Steps', '', '| step | status | seconds | limit | note |', '| --- | --- | ---: | ---: | --- |'];
  for (const s of r.steps) lines.push(`| ${s.name} | ${s.status} | ${s.seconds} | ${s.limit} | ${s.note.replace(/\|/g, '\\|')} |`);
  const limits = r.steps.filter((s) => s.status !== 'skipped').reduce((t, s) => t + s.limit, 0);
  const spent = r.steps.reduce((t, s) => t + s.seconds, 0);
  lines.push('', `${r.steps.length} steps, ${spent} s spent, ${limits} s of limits among those that ran.`);
  const torchStep = r.steps.find((s) => s.name.startsWith('torch'));
  if (!r.torch) lines.push(`PyTorch: no results${torchStep ? ` (${torchStep.status}${torchStep.note ? `: ${torchStep.note}` : ''})` : ''}.`);
  if (r.problems.length > 0) lines.push('', 'Problems reading the results:', ...r.problems.map((p) => `- ${p}`));
  return [...lines, ''];
}

export function renderSummary(r: RunResults): string {
  const benches = r.benches.map((b) => b.result).sort((a, b) => a.date.localeCompare(b.date));
  const parts = [header(r, benches), throughput(r, benches), [''], slowestLayers(benches), fallbacks(benches, r.tunes.map((t) => t.result)), chunking(benches), tuning(r), steps(r)];
  return parts.flat().join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, flag, out] = process.argv.slice(2);
  if (!dir || (flag !== undefined && (flag !== '--out' || !out))) {
    process.stderr.write('usage: node dist/bench/gpu/summary.js RESULTS_DIR [--out FILE]\n');
    process.exit(2);
  }
  const text = renderSummary(readResults(dir));
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}
