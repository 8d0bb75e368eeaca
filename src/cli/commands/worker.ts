import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { GpuError } from '../../gpu/device.js';
import { listAdapters } from '../../node/dawn.js';
import { sha256File } from '../../node/sha256.js';
import { DEFAULT_REDIS_URL } from '../../queue/connection.js';
import { startWorker } from '../../queue/worker.js';
import { gpuOptions, gpuOptionsHelp, intOption, parse, UsageError, type Command } from '../args.js';
import { modelOptions } from '../model-path.js';

/** Runs one worker process per adapter Dawn lists, passing each its --adapter; returns the worst exit status. */
async function workerPerAdapter(argv: string[]): Promise<number> {
  const adapters = await listAdapters();
  if (adapters.length === 0) throw new GpuError('no WebGPU adapter found; `rcae doctor` says what is missing and how to install it');
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
  'shutdown-ms': { type: 'string' },
} as const;

export const worker: Command = {
  name: 'worker',
  summary: 'score shards from the Redis queue on one GPU adapter (or one process per adapter)',
  help: `Usage: rcae worker [--redis URL] [--adapter A | --all-adapters] [--precision P] [--concurrency K] [--exit-when-idle] [--shutdown-ms MS]

Takes shards submitted with \`rcae queue submit\` from the queue, scores them with the job's model
and stores each shard's rows in Redis once. Run one per GPU, on as many machines as you like; they
share the work. A worker that dies loses nothing: its shard's lock expires and another worker
redoes it.

Stopping: SIGINT or SIGTERM stops it taking shards; the shards in progress may finish until shortly
before --shutdown-ms, then are given back to the queue, and the worker exits within --shutdown-ms
whatever state Redis is in (reachable, gone or not answering). A second signal exits at once.
Exit status: 0 when nothing in progress was lost (finished or given back), 1 when Redis did not
confirm giving a shard back (it returns to the queue when its lock expires), 128+signal after a
second signal.

A queue entry, job or shard whose stored data is damaged or out of bounds fails with its reason and
is never retried; so does a job whose model is not a regular file (a device, a FIFO) or is larger
than the checkpoint limit. Other errors are retried up to the job's --attempts.

Options:
  --redis URL              redis://[:PASSWORD@]HOST:PORT[/DB] (default: RCAE_REDIS, else ${DEFAULT_REDIS_URL})
  --all-adapters           start one worker process per adapter Dawn lists (rcae info --list-adapters)
  --concurrency K          shards in progress at once (default 2): reading inputs overlaps the GPU,
                           which runs one batch at a time
  --exit-when-idle         exit once nothing is queued or in progress (for batch runs)
  --lock-duration MS       a shard's lock without renewal (default 30000): a dead worker's shard is
                           retaken after about this long; live workers renew it every MS/2
  --stalled-interval MS    how often to look for expired locks (default 30000)
  --shutdown-ms MS         the most a stop takes after SIGINT/SIGTERM (default 10000)

Every job's model is opened with these (the same on every worker keeps the results comparable):
${gpuOptionsHelp}`,
  async run(argv) {
    const { values } = parse(argv, WORKER_OPTIONS, 'worker');
    if (values['all-adapters'] && values.adapter !== undefined) throw new UsageError('--adapter and --all-adapters exclude each other');
    const concurrency = intOption(values.concurrency, 'concurrency', 2);
    const lockDurationMs = intOption(values['lock-duration'], 'lock-duration', 30_000, 100);
    const stalledIntervalMs = intOption(values['stalled-interval'], 'stalled-interval', 30_000, 100);
    const shutdownMs = intOption(values['shutdown-ms'], 'shutdown-ms', 10_000, 100);
    if (values['all-adapters']) return workerPerAdapter(argv);
    const tag = `rcae worker[${process.pid}]`;
    const log = (line: string) => process.stderr.write(`${tag}: ${line}\n`);
    const running = startWorker({
      redisUrl: values.redis ?? process.env.RCAE_REDIS ?? DEFAULT_REDIS_URL,
      modelOptions: modelOptions(values),
      concurrency,
      lockDurationMs,
      stalledIntervalMs,
      exitWhenIdle: values['exit-when-idle'] ?? false,
      shutdownMs,
      hashFile: (path) => sha256File(path),
      log,
    });
    let last: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (last === undefined) running.stop(signal);
      else {
        log(`${signal} again: exiting now`);
        running.abort();
      }
      last = signal;
    };
    const signals = ['SIGINT', 'SIGTERM'] as const;
    signals.forEach((s) => process.on(s, onSignal));
    const end = await running.ended;
    signals.forEach((s) => process.off(s, onSignal));
    log(`stopped: ${end}, after ${running.stats().shards} shards`);
    // The caller exits explicitly: a shard given up on may still hold the GPU or a file read.
    return end === 'aborted' ? 128 + constants.signals[last ?? 'SIGTERM'] : end === 'abandoned' ? 1 : 0;
  },
};
