import { Gpu, gpuInfo } from '../../gpu/device.js';
import { listAdapters } from '../../node/dawn.js';
import { gpuOptions, parse, type Command } from '../args.js';

export const info: Command = {
  name: 'info',
  summary: 'the GPU adapter, backend, features and limits rcae would use',
  help: `Usage: rcae info [--adapter A] [--list-adapters] [--json]

  --adapter A        inspect this adapter (index or name substring; also RCAE_ADAPTER)
  --list-adapters    list every adapter Dawn sees, in selection order
  --json             machine-readable output`,
  async run(argv) {
    const { values } = parse(argv, { ...gpuOptions, 'list-adapters': { type: 'boolean' }, json: { type: 'boolean' } }, 'info');
    if (values['list-adapters']) {
      const adapters = await listAdapters();
      if (values.json) process.stdout.write(JSON.stringify(adapters, null, 2) + '\n');
      else for (const a of adapters) process.stdout.write(`${a.index}  ${a.backend.padEnd(8)} ${a.vendor} ${a.device || a.description}${a.isSoftware ? '  (software)' : ''}\n`);
      return;
    }
    const gpu = await Gpu.open({ adapter: values.adapter, fastUnsafe: values['fast-unsafe'] });
    try {
      const summary = gpuInfo(gpu) as Record<string, unknown>;
      if (values.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        return;
      }
      for (const [k, v] of Object.entries(summary)) {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          process.stdout.write(`${k}:\n`);
          for (const [k2, v2] of Object.entries(v)) process.stdout.write(`  ${k2}: ${Array.isArray(v2) ? v2.join(', ') : v2}\n`);
        } else {
          process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
        }
      }
    } finally {
      gpu.destroy();
    }
  },
};
