import { scoreMeasure, type ScoreName } from '../../detect/scores.js';
import { fitOfThresholds, parseLevel, pickThreshold, type ThresholdsDocument } from '../../detect/thresholds.js';
import { startService } from '../../serve/server.js';
import type { ScoreMeasure } from '../../serve/model-holder.js';
import type { ThresholdChoice } from '../../serve/routes.js';
import { version } from '../../node/version.js';
import { gpuOptions, gpuOptionsHelp, intOption, parse, UsageError, type Command } from '../args.js';
import { openModel } from '../model-path.js';
import { readScoreThresholds, scoreOption, scoreOptionHelp, thresholdsFileFor, warnOnModelMismatch } from '../score-option.js';
import { chooseThreshold } from './detect.js';

/** The score's thresholds file as detect finds it, when there is one (a numeric --level needs none). */
function thresholdsDocument(option: string | undefined, model: string | undefined, score: ScoreName): { path: string; doc: ThresholdsDocument } | undefined {
  let path: string;
  try {
    path = thresholdsFileFor(option, model, score);
  } catch {
    return undefined;
  }
  return { path, doc: readScoreThresholds(path, score) };
}

function thresholdChoice(level: string | undefined, thresholds: string | undefined, model: string | undefined, score: ScoreName): ThresholdChoice & { file?: { path: string; doc: ThresholdsDocument } } {
  const fallback = chooseThreshold(level, thresholds, model, score);
  const file = fallback.file ?? thresholdsDocument(thresholds, model, score);
  const levels = Object.fromEntries(Object.entries(file?.doc.reconstruction_thresholds.thresholds ?? {}).map(([name, l]) => [name, l.value]));
  return { fallback, levels, pick: (text) => pickThreshold(file?.doc, parseLevel(text)), file };
}

/** The per-sample score of a pass for each (re-)opened model, with the reconstructions of the same pass when asked. */
function measureFor(score: ScoreName, file: { path: string; doc: ThresholdsDocument } | undefined): ScoreMeasure {
  return (model) => {
    const fit = score === 'atypical' ? fitOfThresholds(file!.doc, file!.path, model.latentSize) : undefined;
    const plain = scoreMeasure(model, [score], fit);
    const withReconstructions = scoreMeasure(model, [score], fit, ['reconstruction']);
    return async (images, withReconstruction) => {
      const r = await (withReconstruction ? withReconstructions : plain)(images);
      return { error: r[score], reconstruction: r.reconstruction };
    };
  };
}

export const serve: Command = {
  name: 'serve',
  summary: 'an HTTP scoring service: REAL/FAKE per image, batched on the GPU, with metrics',
  help: `Usage: rcae serve [--model M] [--score S] [--thresholds T] [--level L] [--host 127.0.0.1] [--port 8080]
                  [--max-batch 64] [--max-delay-ms 5] [--max-queue 1024] [--max-body-mb 64]
                  [--timeout-ms 30000] [--shutdown-ms 10000] [--show-model-path]

Serves the detector over HTTP (routes: /openapi.json):
  POST /v1/detect          one image (any format rcae detect reads) as the body
                           -> {"error", "threshold", "level", "label"} (error: the --score)
  POST /v1/detect/batch    multipart/form-data with one image per part, or one .npy [N,3,128,128]
                           -> an array in input order
                           both take ?level=L and ?reconstruction=1 (a base64 PNG of input,
                           reconstruction and error map)
  GET /healthz, /readyz, /metrics (Prometheus), /v1/model (the model file's name and SHA-256)
Requests that arrive within --max-delay-ms of each other share one forward pass of up to
--max-batch samples. Errors are {"status", "message"} on one line: 4xx for the client's fault
(408: sent too slowly; 400: malformed, or a body shorter than its Content-Length), 503 with
Retry-After for overload only. One JSON access-log line per request on stderr; a client that
closed the connection before its answer is logged and counted as 499. SIGTERM/SIGINT: stop
accepting, finish requests in flight (at most --shutdown-ms), exit 0.

Options:
  --model M, --thresholds T, --level L   as for rcae detect (the default level of every request)
${scoreOptionHelp}
  --host H          address to bind (default 127.0.0.1: this machine only)
  --port P          TCP port (default 8080; 0: any free port)
  --max-batch N     samples per forward pass at most (default 64)
  --max-delay-ms D  how long the first request waits for others while the GPU is idle (default 5)
  --max-queue Q     samples waiting for the GPU beyond which requests get 503 (default 1024)
  --max-body-mb S   request body limit in MiB (default 64; larger bodies get 413)
  --timeout-ms T    per-request limit (default 30000): a request (or its headers) not received
                    within it gets 408, one received but not answered within it 503
  --shutdown-ms S   how long a stop waits for requests in flight (default 10000)
  --show-model-path /v1/model also shows the model file's path on this machine (for operators;
                    by default only its name and SHA-256)
${gpuOptionsHelp}`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string' }, score: { type: 'string' }, thresholds: { type: 'string' }, level: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
      'max-batch': { type: 'string' }, 'max-delay-ms': { type: 'string' }, 'max-queue': { type: 'string' }, 'max-body-mb': { type: 'string' },
      'timeout-ms': { type: 'string' }, 'shutdown-ms': { type: 'string' }, 'show-model-path': { type: 'boolean' }, ...gpuOptions,
    }, 'serve');
    if (positionals.length > 0) throw new UsageError(`serve takes no INPUT (got ${positionals[0]}); send images over HTTP`);
    const port = intOption(values.port, 'port', 8080, 0);
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const maxBatch = intOption(values['max-batch'], 'max-batch', 64);
    const maxQueue = intOption(values['max-queue'], 'max-queue', 1024);
    if (maxQueue < maxBatch) throw new UsageError(`--max-queue (${maxQueue}) must be at least --max-batch (${maxBatch})`);
    const score = scoreOption(values.score);
    const thresholds = thresholdChoice(values.level, values.thresholds, values.model, score);
    const file = thresholds.file;
    let warned = false;
    const service = await startService({
      open: async () => {
        const model = await openModel(values);
        if (file && !warned) await warnOnModelMismatch(file.path, file.doc, model);
        warned = true;
        return model;
      },
      score,
      measure: measureFor(score, file),
      thresholds,
      host: values.host ?? '127.0.0.1',
      port,
      maxBatch,
      maxDelayMs: intOption(values['max-delay-ms'], 'max-delay-ms', 5, 0),
      maxQueue,
      maxBodyBytes: intOption(values['max-body-mb'], 'max-body-mb', 64) * 1024 * 1024,
      requestTimeoutMs: intOption(values['timeout-ms'], 'timeout-ms', 30_000),
      shutdownTimeoutMs: intOption(values['shutdown-ms'], 'shutdown-ms', 10_000, 0),
      showModelPath: values['show-model-path'] ?? false,
      log: (line) => process.stderr.write(line + '\n'),
      version: version(),
    });
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve).once('SIGINT', resolve);
    });
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), event: 'stopping', signal }) + '\n');
    await service.stop();
    return 0;
  },
};
