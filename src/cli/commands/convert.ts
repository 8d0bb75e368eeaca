import { basename } from 'node:path';
import { parameterList } from '../../graph/architecture.js';
import { ARCHITECTURE_METADATA_KEY, resolveWeights } from '../../model.js';
import { writeSafetensors } from '../../node/safetensors-file.js';
import { sha256File } from '../../node/sha256.js';
import { version } from '../../node/version.js';
import { parse, required, UsageError, type Command } from '../args.js';
import { checkOutputPaths } from '../outputs.js';

export const convert: Command = {
  name: 'convert',
  summary: 'rewrite a checkpoint as safetensors with canonical names and the architecture in its metadata',
  help: `Usage: rcae convert IN.ckpt -o OUT.safetensors

Reads a PyTorch checkpoint (.ckpt/.pt/.pth) or safetensors file, maps its tensors onto the
architecture (by name, else by shape order; see rcae inspect), and writes float32 tensors under the
canonical names with the architecture JSON in metadata key "${ARCHITECTURE_METADATA_KEY}", plus the
source file's name and SHA-256. The output appears only when complete.`,
  async run(argv) {
    const { values, positionals } = parse(argv, { out: { type: 'string', short: 'o' } }, 'convert');
    if (positionals.length !== 1) throw new UsageError('expected exactly one input checkpoint');
    const out = required(values.out, 'out (-o)');
    if (!out.endsWith('.safetensors')) throw new UsageError(`-o must name a .safetensors file, got '${out}'`);
    const [input] = positionals;
    checkOutputPaths([{ path: out, option: 'out' }], [input]);
    const resolved = await resolveWeights(input);
    // num_batches_tracked is bookkeeping for training; inference never reads it.
    const tensors = parameterList(resolved.arch)
      .filter((p) => p.role !== 'bn.num_batches_tracked')
      .map((p) => ({ name: p.name, shape: p.shape, data: resolved.params.get(p.name)! }));
    const byShape = resolved.report.entries.filter((e) => e.how !== 'name').length;
    await writeSafetensors(out, tensors, {
      [ARCHITECTURE_METADATA_KEY]: JSON.stringify(resolved.arch),
      'rcae.source': basename(input),
      'rcae.source_sha256': await sha256File(input),
      'rcae.source_format': resolved.format,
      'rcae.matched_by_shape': String(byShape),
      'rcae.version': version(),
    });
    process.stderr.write(`wrote ${out}: ${tensors.length} tensors (${byShape} matched by shape order), base width ${resolved.arch.baseWidth}\n`);
  },
};
