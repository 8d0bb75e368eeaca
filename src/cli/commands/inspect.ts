import { parameterCount } from '../../graph/architecture.js';
import { resolveCheckpoint, type ResolvedWeights } from '../../model.js';
import { readCheckpoint } from '../../weights/checkpoint.js';
import { printable, terminalJson } from '../../printable.js';
import { parse, UsageError, type Command } from '../args.js';

const count = (n: number) => n.toLocaleString('en-US');

export const inspect: Command = {
  name: 'inspect',
  summary: 'tensor inventory, parameter count, inferred architecture and how tensors map onto it',
  help: `Usage: rcae inspect [--json] FILE

Lists the tensors of a checkpoint (.ckpt/.pt/.pth) or safetensors file, where the state dict was
found and what else the file holds, the architecture (read from metadata or inferred from the
shapes), and for every tensor whether it was matched to the architecture by name or by shape order.
A file whose tensors do not fit the architecture is still listed, with the reason, and the exit
status is 1 with that reason on stderr. Names and metadata from the file are shown with control
characters escaped (\\x1b, \\n); --json keeps them exact, JSON-escaped.`,
  async run(argv) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, 'inspect');
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const ckpt = await readCheckpoint(positionals[0]);
    const tensors = [...ckpt.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
    let resolved: ResolvedWeights | undefined;
    let problem: string | undefined;
    try {
      resolved = resolveCheckpoint(ckpt);
    } catch (err) {
      problem = (err as Error).message;
    }
    const elements = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    const summary = {
      path: ckpt.path,
      format: ckpt.format,
      stateDictKey: ckpt.stateDictKey,
      keyPrefix: ckpt.keyPrefix,
      skipped: ckpt.skipped,
      metadata: ckpt.metadata,
      tensorCount: tensors.length,
      tensorElements: elements,
      parameterCount: resolved ? parameterCount(resolved.arch) : null,
      architecture: resolved?.arch ?? null,
      architectureSource: resolved?.architectureSource ?? [],
      mapping: resolved?.report ?? null,
      problem: problem ?? null,
      tensors,
    };
    // The failure also goes to stderr as one line naming the file, as every other failure does.
    const failed = (): number => {
      if (!problem) return 0;
      process.stderr.write(`rcae inspect: ${printable(ckpt.path)}: architecture not resolved: ${printable(problem.split('\n')[0])}\n`);
      return 1;
    };
    if (values.json) {
      process.stdout.write(terminalJson(summary, 2) + '\n');
      return failed();
    }
    const p = printable;
    const out: string[] = [];
    out.push(`${p(ckpt.path)}: ${ckpt.format}, ${tensors.length} tensors (${count(elements)} values)`);
    out.push(`state dict: ${ckpt.stateDictKey ? `under '${p(ckpt.stateDictKey)}'` : 'at top level'}${ckpt.keyPrefix ? `, prefix '${ckpt.keyPrefix}' removed` : ''}`);
    if (ckpt.skipped.length) out.push(`also in the file (not used): ${p(ckpt.skipped.join(', '))}`);
    for (const [k, v] of Object.entries(ckpt.metadata)) out.push(`metadata ${p(k)}: ${p(v.length > 120 ? v.slice(0, 117) + '...' : v)}`);
    if (resolved) {
      const a = resolved.arch;
      out.push(`architecture: base width ${a.baseWidth}, latent ${a.latentDim}, ${a.activation}, ${count(parameterCount(a))} parameters`);
      out.push(`  encoder channels ${a.encoder.map((s) => `${s.channels}${s.residualBlocks ? `+${s.residualBlocks}res` : ''}`).join(' -> ')}`);
      out.push(`  decoder channels ${a.decoder.map((s) => `${s.channels}${s.residualBlocks ? `+${s.residualBlocks}res` : ''}`).join(' -> ')}`);
      for (const e of resolved.architectureSource) out.push(`  evidence: ${p(e)}`);
      out.push(`mapping: ${p(resolved.report.summary)}`);
      for (const n of resolved.report.notes) out.push(`  note: ${p(n)}`);
    } else {
      out.push(`architecture: not resolved: ${p(problem ?? '')}`);
    }
    out.push('');
    const how = new Map(resolved?.report.entries.map((e) => [e.source, `${e.canonical} (${e.how})`]) ?? []);
    const width = Math.max(...tensors.map((t) => p(t.name).length), 6);
    out.push(`${'tensor'.padEnd(width)}  dtype  ${'shape'.padEnd(16)}  maps to`);
    for (const t of tensors) out.push(`${p(t.name).padEnd(width)}  ${t.dtype.padEnd(5)}  ${`[${t.shape.join(',')}]`.padEnd(16)}  ${p(how.get(t.name) ?? (resolved?.report.ignored.includes(t.name) ? '(ignored)' : '-'))}`);
    process.stdout.write(out.join('\n') + '\n');
    return failed();
  },
};
