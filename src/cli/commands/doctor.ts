// `rcae doctor`: the report of src/node/driver-check.ts, for people and (--json) for scripts; with
// --kernels, the compile gate of src/graph/compile-gate.ts on the chosen adapter or Dawn's null backend.
import { Gpu } from '../../gpu/device.js';
import { diagnose, type Diagnosis } from '../../node/driver-check.js';
import { gateCases, runGate, type GateReport } from '../../graph/compile-gate.js';
import { progressBar } from '../../node/progress.js';
import { parse, UsageError, type Command } from '../args.js';

function report(d: Diagnosis): string {
  const lines = [`platform:  ${d.platform}, ${d.os}, Node ${d.node}, ${d.dawn} (Dawn)${d.inContainer ? ', in a container' : ''}`];
  lines.push(`adapters:${d.adapters.length === 0 ? '  none' : ''}`);
  for (const a of d.adapters) {
    const used = a === d.chosen ? '  <- used by default' : '';
    lines.push(`  ${a.index}: ${a.backend} ${[a.vendor, a.device || a.description].filter(Boolean).join(' ')}${a.isSoftware ? ' (software: runs on the CPU)' : ''}${used}`);
  }
  if (d.vulkanDrivers) {
    lines.push(`vulkan loader:  ${d.vulkanLoader ?? 'not found (libvulkan.so.1)'}`);
    lines.push(`vulkan drivers:${d.vulkanDrivers.length === 0 ? ` none in ${d.vulkanDriverSearch!.join(', ')}` : ''}`);
    for (const f of d.vulkanDrivers) lines.push(`  ${f.file} -> ${f.library || '?'}${f.software ? ' (software)' : ''}${f.problem ? `: ${f.problem}` : ''}`);
  }
  lines.push(`GPU hardware:   ${d.gpuHardware.length === 0 ? 'none seen' : d.gpuHardware.join(', ')}`);
  lines.push('');
  if (d.problems.length === 0) lines.push(`ok: rcae runs on adapter ${d.chosen!.index}${d.chosen!.isSoftware ? ' (software, slow; no GPU seen)' : ''}`);
  for (const p of d.problems) lines.push(`problem: ${p}`);
  if (d.fix) lines.push(...d.fix.split('\n').map((f) => `fix: ${f}`));
  return lines.join('\n') + '\n';
}

function gateSummary(r: GateReport): string {
  const lines = r.failures.map((f) => `FAIL ${f.kernel}: ${f.what}: ${f.message}`);
  const frag = r.fragments.length === 0 ? 'none' : r.fragments.map((f) => `${f.m}x${f.n}x${f.k}/${f.subgroup}`).join(', ');
  lines.push(`kernels on ${r.device}: fragment shapes ${frag}`);
  lines.push(`  modules:   ${r.modules.compiled} compiled, ${r.modules.failed} failed, ${r.modules.skipped} skipped`);
  lines.push(`  pipelines: ${r.pipelines.created} created, ${r.pipelines.failed} failed, ${r.pipelines.skipped} skipped`);
  lines.push(`  created:   ${Object.entries(r.created).map(([kernel, n]) => `${kernel} ${n}`).join(', ') || 'none'}`);
  for (const s of r.skipped) lines.push(`  skipped ${s.count}: ${s.reason}`);
  lines.push(r.failures.length === 0 ? 'ok: every kernel compiles' : `${r.failures.length} failure(s)`);
  return lines.join('\n') + '\n';
}

async function kernelGate(values: { adapter?: string; backend?: string; json?: boolean }): Promise<number> {
  if (values.backend !== undefined && values.backend !== 'null') throw new UsageError(`--backend takes only 'null' (Dawn's null backend), got '${values.backend}'`);
  const gpu = await Gpu.open(values.backend === 'null' ? { backend: 'null' } : { adapter: values.adapter });
  try {
    const cases = gateCases(gpu);
    const progress = progressBar('compiling kernels', cases.length);
    const report = await runGate(gpu, cases, { onCase: (done) => progress.update(done) });
    progress.finish();
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : gateSummary(report));
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    gpu.destroy();
  }
}

export const doctor: Command = {
  name: 'doctor',
  summary: 'what WebGPU sees on this machine, what is missing, and the command that fixes it',
  help: `Usage: rcae doctor [--json]
       rcae doctor --kernels [--adapter A | --backend null] [--json]

Lists the adapters Dawn sees and, on Linux, the Vulkan loader and driver files behind them
(VK_DRIVER_FILES / VK_ICD_FILENAMES or the loader's folders), signs of a GPU (/dev/nvidia*,
/dev/dri/renderD*), and whether a GPU is present but unused. When something is missing it prints
the command that installs a driver for this OS. Changes nothing. Exit status 1 when no adapter
can be used.

--kernels compiles every compute pipeline the engine can create (every convolution family,
variant and precision, every tile \`rcae tune\` can try, for the bundled and the reference
architectures; the linear, statistic and reduction kernels) on the adapter, and prints one line
per failure (the kernel, variant, tile and the compiler's message), then counts: modules compiled,
pipelines created, and what was skipped and why (a feature the adapter lacks skips a kernel's
modules; a tile beyond its limits is compiled but not made into a pipeline). Exit status 1 on any
failure. With --backend null it runs on Dawn's null backend, which has every feature
(subgroup matrices included) and compiles shaders without a GPU; it reports no fragment shapes,
so the tensor-core kernels are compiled for each shape adapters report (16x16x16, 16x8x16,
16x8x8 and 8x8x8 on 32-wide subgroups, 8x16x16 on 16).

  --kernels        run the kernel compile gate
  --adapter A      the adapter to compile on (index or name substring; also RCAE_ADAPTER)
  --backend null   compile on Dawn's null backend instead of an adapter
  --json           machine-readable output`,
  async run(argv) {
    const { values } = parse(argv, { json: { type: 'boolean' }, kernels: { type: 'boolean' }, adapter: { type: 'string' }, backend: { type: 'string' } }, 'doctor');
    if (values.kernels) return kernelGate(values);
    if (values.adapter !== undefined || values.backend !== undefined) throw new UsageError('--adapter and --backend go with --kernels');
    const d = await diagnose();
    process.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' : report(d));
    return d.adapters.length === 0 ? 1 : 0;
  },
};
