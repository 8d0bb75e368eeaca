import { spawn } from 'node:child_process';
import { listAdapters } from '../../node/dawn.js';
import { sha256File } from '../../node/sha256.js';
import { DEFAULT_REDIS_URL } from '../../queue/connection.js';
import { runWorker } from '../../queue/worker.js';
import { gpuOptions, gpuOptionsHelp, intOption, parse, UsageError, type Command } from '../args.js';
import { modelOptions } from '../model-path.js';

/** Runs one worker process per adapter Dawn lists, passing each its --adapter; returns the worst exit status. */
async function workerPerAdapter(argv: string[]): Promise<number> {
  const adapters = await listAdapters();
  if (adapters.length === 0) throw new Error('no WebGPU adapter found; `rcae doctor` says what is missing and how to install it');
  const rest = argv.filter((a) => a !== '--all-adapters');
  const children = adapters.map((a) => spawn(process.execPath, [process.argv[1], 'worker', ...rest, '--adapter', String(a.index)], { stdio: 'inherit' }));
  const forward = (signal: NodeJS.Signals) => children.forEach((c) => c.kill(signal));
  process.on('SIGINT', forward).on('SIGTERM', forward);
  process.stderr.write(`rcae worker: one worker per adapter: ${adapters.map((a) => `${a.index}: ${a.device || a.description}`).join('; ')}\n`);
  const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => c.on('exit', (code) => resolve(code ?? 1)))));
  return Math.max(...codes);
}

/** The options `rcae worker` takes (deploy/ files are checked against them). */
export const WORKER_OPTIONS = {
  ...gpuOptions, redis: { type: 'string' }, 'all-adapters': { type: 'boolean' }, concurrency: { type: 'string' },
  'exit-when-idle': { type: 'boolean' }, 'lock-duration': { type: 'string' }, 'stalled-interval': { type: 'string' },
} as const;

export const worker: Command = {
  name: 'worker',
  summary: 'score shards from the Redis queue on one GPU adapter (or one process per adapter)',
  help: `Usage: rcae worker [--redis URL] [--adapter A | --all-adapters] [--precision P] [--concurrency K] [--exit-when-idle]

Takes shards submitted with \`rcae queue submit\` from the queue, scores them with the job's model
and stores each shard's rows in Redis once. Run one per GPU, on as many machines as you like; they
share the work. A worker that dies loses nothing: its shard's lock expires and another worker
redoes it. SIGINT/SIGTERM stop it after the shards in progress.

Options:
  --redis URL              redis://[:PASSWORD@]HOST:PORT[/DB] (default: RCAE_REDIS, else ${DEFAULT_REDIS_URL})
  --all-adapters           start one worker process per adapter Dawn lists (rcae info --list-adapters)
  --concurrency K          shards in progress at once (default 2): reading inputs overlaps the GPU,
                           which runs one batch at a time
  --exit-when-idle         exit once nothing is queued or in progress (for batch runs)
  --lock-duration MS       a shard's lock without renewal (default 30000): a dead worker's shard is
                           retaken after about this long; live workers renew it every MS/2
  --stalled-interval MS    how often to look for expired locks (default 30000)

Every job's model is opened with these (the same on every worker keeps the results comparable):
${gpuOptionsHelp}`,
  async run(argv) {
    const { values } = parse(argv, WORKER_OPTIONS, 'worker');
    if (values['all-adapters'] && values.adapter !== undefined) throw new UsageError('--adapter and --all-adapters exclude each other');
    const concurrency = intOption(values.concurrency, 'concurrency', 2);
    const lockDurationMs = intOption(values['lock-duration'], 'lock-duration', 30_000, 100);
    const stalledIntervalMs = intOption(values['stalled-interval'], 'stalled-interval', 30_000, 100);
    if (values['all-adapters']) return workerPerAdapter(argv);
    const tag = `rcae worker[${process.pid}]`;
    await runWorker({
      redisUrl: values.redis ?? process.env.RCAE_REDIS ?? DEFAULT_REDIS_URL,
      modelOptions: modelOptions(values),
      concurrency,
      lockDurationMs,
      stalledIntervalMs,
      exitWhenIdle: values['exit-when-idle'] ?? false,
      sha256File,
      log: (line) => process.stderr.write(`${tag}: ${line}\n`),
    });
    return 0;
  },
};
