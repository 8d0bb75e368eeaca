// `rcae doctor`: the report of src/node/driver-check.ts, for people and (--json) for scripts.
import { diagnose, type Diagnosis } from '../../node/driver-check.js';
import { parse, type Command } from '../args.js';

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

export const doctor: Command = {
  name: 'doctor',
  summary: 'what WebGPU sees on this machine, what is missing, and the command that fixes it',
  help: `Usage: rcae doctor [--json]

Lists the adapters Dawn sees and, on Linux, the Vulkan loader and driver files behind them
(VK_DRIVER_FILES / VK_ICD_FILENAMES or the loader's folders), signs of a GPU (/dev/nvidia*,
/dev/dri/renderD*), and whether a GPU is present but unused. When something is missing it prints
the command that installs a driver for this OS. Changes nothing. Exit status 1 when no adapter
can be used.

  --json    machine-readable output`,
  async run(argv) {
    const { values } = parse(argv, { json: { type: 'boolean' } }, 'doctor');
    const d = await diagnose();
    process.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' : report(d));
    return d.adapters.length === 0 ? 1 : 0;
  },
};
