import { markdownSummary, runBench } from '../../../bench/harness.js';
import { gpuOptions, gpuOptionsHelp, intOption, parse, precisionOption, UsageError, type Command } from '../args.js';
import { parseVariant } from '../../kernels/variants.js';
import { tuningTable } from '../../node/tune-cache.js';
import { writeFileAtomically } from '../../node/atomic.js';

function batchList(value: string | undefined): number[] {
  const list = (value ?? '1,8,32').split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((b) => !Number.isInteger(b) || b < 1)) throw new UsageError(`--batch takes a comma-separated list of positive integers, got '${value}'`);
  return list;
}

export const bench: Command = {
  name: 'bench',
  summary: 'throughput, % of measured peak, per-layer profile, and peers side by side',
  help: `Usage: rcae bench [--model M] [--width W] [--batch 1,8,32] [--peers] [--json FILE] [--no-profile]

Runs the full-width reference architecture with seeded random weights (no checkpoint needed), or
--model M, and reports per batch: samples/s (median and min-max over iterations), ms per batch,
GFLOP/s from the graph's own FLOP count, and % of this adapter's attainable peak measured by a WGSL
GEMM microbenchmark in the same process. "end-to-end" includes upload and readback; "gpu" is the
forward pass alone with the data resident. A per-layer profile uses timestamp queries; the device
is opened with Dawn's timestamp quantization (~65 us steps) off, and the report says whether the
timestamps it returned were quantized.

A batch runs in chunks of at most as many samples as the activation budget (1 GiB on a software
adapter, twice the largest storage binding on a GPU) and the storage-binding limit allow; the report
gives the chunk size and what set it, each batch's chunk count, and a batch over one chunk has no
"gpu" row.

Options:
  --model M        checkpoint or safetensors to run instead of random weights
  --width W        base width of the random reference model (default 64)
  --seed S         weight/input seed (default 0)
  --batch LIST     batch sizes (default 1,8,32)
  --time MS        time budget per measurement (default 2000)
  --iterations N   minimum iterations per measurement (default 3)
  --peers          also run onnxruntime-web (WebGPU), tfjs (WebGPU), onnxruntime-node (CPU) and PyTorch
                   (CPU, when python3-torch is installed) on the same model, weights and input
  --no-profile     skip the per-layer profile
  --json FILE      write every figure as JSON to FILE ('-': to stdout, instead of the table)
  --no-tuned       ignore tuned tiles (rcae tune) and use the built-in heuristic
  --max-chunk N    at most N samples per command buffer, in place of the activation budget (the
                   storage-binding limit still caps it)
${gpuOptionsHelp}

The per-layer profile names the kernel each layer ran: variant, precision, GEMM tile, and whether
the tile came from the tuning cache ('tuned') or the heuristic.`,
  async run(argv) {
    const { values } = parse(argv, {
      model: { type: 'string' }, width: { type: 'string' }, seed: { type: 'string' }, batch: { type: 'string' },
      time: { type: 'string' }, iterations: { type: 'string' }, peers: { type: 'boolean' }, 'no-profile': { type: 'boolean' },
      json: { type: 'string' }, 'no-tuned': { type: 'boolean' }, 'max-chunk': { type: 'string' }, ...gpuOptions,
    }, 'bench');
    const precision = precisionOption(values.precision);
    let variant;
    try {
      variant = values.variant === undefined ? undefined : parseVariant(values.variant, '--variant');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const result = await runBench({
      model: values.model,
      width: intOption(values.width, 'width', 64),
      seed: intOption(values.seed, 'seed', 0, 0),
      batches: batchList(values.batch),
      timeMs: intOption(values.time, 'time', 2000, 0),
      minIterations: intOption(values.iterations, 'iterations', 3),
      profile: !values['no-profile'],
      peers: Boolean(values.peers),
      adapter: values.adapter,
      precision,
      variant,
      fastUnsafe: values['fast-unsafe'],
      tuning: values['no-tuned'] ? undefined : (gpu) => tuningTable(gpu, precision).table,
      maxChunk: values['max-chunk'] === undefined ? undefined : intOption(values['max-chunk'], 'max-chunk', 1),
      log: (line) => process.stderr.write(line + '\n'),
    });
    const json = JSON.stringify(result, null, 2) + '\n';
    if (values.json === '-') {
      process.stdout.write(json);
      return;
    }
    if (values.json) await writeFileAtomically(values.json, json);
    process.stdout.write(markdownSummary(result));
  },
};
