// `rcae tune`: times the GEMM kernels' candidate tiles for every distinct layer of a model on this
// adapter and stores the winners in the tuning cache, which every command then uses.
import { Gpu } from '../../gpu/device.js';
import { probeTimestampQuantization } from '../../gpu/timestamps.js';
import { resolveWeights } from '../../model.js';
import { referenceArchitecture } from '../../graph/architecture.js';
import { tileKey } from '../../kernels/conv2d/gemm.js';
import { isGemmVariant, parseVariant } from '../../kernels/variants.js';
import { defaultCachePath, deviceKey, storeTuning } from '../../node/tune-cache.js';
import { tuneLayers } from '../../graph/tuner.js';
import { gpuOptions, gpuOptionsHelp, intOption, numberOption, parse, precisionOption, UsageError, type Command } from '../args.js';

export const tune: Command = {
  name: 'tune',
  summary: 'time candidate kernel tiles per layer on this adapter and cache the fastest',
  help: `Usage: rcae tune [--model M | --width W] [--precision f32|f16] [--batch N] [--cache FILE] [--json]

For every distinct layer of the model (default: the full-width reference architecture), times the
GEMM kernel's candidate tiles (tile shape, K step, invocation tile or subgroup-matrix fragments,
split-K factor) at the given batch on this adapter, and stores the fastest per layer in the tuning
cache, keyed by adapter vendor, architecture, device, driver description, Dawn version, precision,
layer shape and batch. Later commands (score, detect, bench, ...) use the cached tiles on this
adapter; layers without an entry use the built-in heuristic. Tune each batch size you run.

Timing: each sample is the same dispatch repeated in one compute pass until the sample lasts at least
--min-sample-ms, timed by timestamp queries where the adapter has them (the device is opened with
Dawn's timestamp quantization off), else by the wall clock; the median of 3 samples counts.

Options:
  --model M          tune this checkpoint's layers (only the architecture matters)
  --width W          base width of the reference architecture (default 64)
  --batch N          batch to tune at (default 64)
  --candidates N     time at most N candidate tiles per layer besides the heuristic's (default: all)
  --min-sample-ms MS shortest timing sample (default 2)
  --max-seconds S    stop after S seconds: the layer in progress keeps its best tile so far, later
                     layers the heuristic (listed as untuned); what was tuned is stored
  --cache FILE       tuning cache (default $RCAE_TUNE_CACHE, else $XDG_CACHE_HOME/rcae/tune.json)
  --json             print the results as JSON instead of a table
${gpuOptionsHelp}`,
  async run(argv) {
    const { values } = parse(argv, {
      model: { type: 'string' }, width: { type: 'string' }, batch: { type: 'string' }, candidates: { type: 'string' }, 'min-sample-ms': { type: 'string' },
      'max-seconds': { type: 'string' }, cache: { type: 'string' }, json: { type: 'boolean' }, ...gpuOptions,
    }, 'tune');
    const precision = precisionOption(values.precision);
    const batch = intOption(values.batch, 'batch', 64);
    const floorMs = numberOption(values['min-sample-ms'], 'min-sample-ms', 2, 0);
    const maxSeconds = values['max-seconds'] === undefined ? undefined : numberOption(values['max-seconds'], 'max-seconds', 0, 0);
    let variant;
    if (values.variant !== undefined) {
      const v = parseVariant(values.variant, '--variant');
      if (!isGemmVariant(v)) throw new UsageError(`--variant: only the GEMM variants (fma, matrix, matrix-emulated) have tiles to tune, not '${v}'`);
      variant = v;
    }
    const arch = values.model ? (await resolveWeights(values.model)).arch : referenceArchitecture(intOption(values.width, 'width', 64));
    const cache = values.cache ?? defaultCachePath();
    const gpu = await Gpu.open({ adapter: values.adapter, fastUnsafe: values['fast-unsafe'], exactTimestamps: true });
    try {
      process.stderr.write(`rcae tune: ${deviceKey(gpu)}\n`);
      const quantization = await probeTimestampQuantization(gpu);
      const result = await tuneLayers(gpu, arch, {
        precision,
        batch,
        variant,
        floorMs,
        maxSeconds,
        maxCandidates: values.candidates === undefined ? undefined : intOption(values.candidates, 'candidates', 0, 0),
        onWarning: (message) => process.stderr.write(`rcae tune: ${message}\n`),
        onLayer: (done, total, r) => process.stderr.write(`rcae tune: [${done}/${total}] ${r.layer}: ${tileKey(r.tile)} ${r.ms.toFixed(3)} ms (heuristic ${r.heuristic.ms.toFixed(3)} ms, ${r.candidates} candidates)\n`),
      });
      await storeTuning(cache, gpu, result);
      const total = result.layers.reduce((s, l) => s + l.ms, 0);
      const heuristic = result.layers.reduce((s, l) => s + l.heuristic.ms, 0);
      const timing = { ...result.timing, timestamp_quantization: quantization };
      if (values.json) {
        process.stdout.write(JSON.stringify({ device: deviceKey(gpu), cache, ...result, timing, total_ms: total, heuristic_total_ms: heuristic }, null, 2) + '\n');
      } else {
        process.stdout.write(`Timed by ${timing.method} (timestamp quantization ${quantization}), samples of at least ${timing.floor_ms} ms, median of ${timing.samples}.\n\n`);
        const lines = ['| layer | tile | ms | heuristic tile | ms | gain |', '| --- | --- | ---: | --- | ---: | ---: |'];
        for (const l of result.layers) lines.push(`| ${l.layer} | ${tileKey(l.tile)} | ${l.ms.toFixed(3)} | ${tileKey(l.heuristic.tile)} | ${l.heuristic.ms.toFixed(3)} | ${(l.heuristic.ms / l.ms).toFixed(2)}x |`);
        lines.push(`| all distinct layers (once each) | | ${total.toFixed(2)} | | ${heuristic.toFixed(2)} | ${(heuristic / total).toFixed(2)}x |`);
        if (result.untuned.length > 0) lines.push('', `Not tuned (time budget of ${maxSeconds} s spent): ${result.untuned.join('; ')}`);
        process.stdout.write(lines.join('\n') + '\n');
      }
      process.stderr.write(`rcae tune: ${result.layers.length} layers stored in ${cache}\n`);
    } finally {
      gpu.destroy();
    }
  },
};
