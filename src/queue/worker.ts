// A queue worker: takes shards from the BullMQ queue, scores them with the job's model on one GPU
// adapter and stores each shard's rows once. BullMQ holds a lock on each shard in progress and
// renews it while the worker lives (the heartbeat); when a worker dies its lock expires and the
// shard goes back to the queue for another worker. Storing is idempotent (HSETNX), so a shard done
// twice (a worker that lost its lock and finished anyway) still yields one result.

import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import { loadModel, type LoadOptions, type Model } from '../model.js';
import { connectWorker, describeUrl } from './connection.js';
import { NpyCache, scoreShard } from './shard-scoring.js';
import { JobStore, QUEUE_NAME, type JobSpec } from './store.js';

export interface WorkerOptions {
  redisUrl: string;
  /** How this worker opens every job's model: adapter, precision, kernel variant, tuned tiles. */
  modelOptions: LoadOptions;
  /** Shards in progress at once: reading inputs and Redis traffic overlap the GPU, which runs one batch at a time. */
  concurrency: number;
  /** How long a shard's lock lasts without renewal; a dead worker's shard is retaken after about this long. */
  lockDurationMs: number;
  /** How often this worker looks for shards whose lock expired. */
  stalledIntervalMs: number;
  /** Stop once nothing is waiting, delayed or in progress on the queue. */
  exitWhenIdle: boolean;
  /** SHA-256 of a file (the platform's), to check that the model is the one the job was submitted with. */
  sha256File: (path: string) => Promise<string>;
  log: (line: string) => void;
}

interface ShardData {
  job: string;
  shard: number;
}

/** Models by file hash, loaded on first use; the GPU runs one batch at a time whatever the concurrency. */
class Models {
  private readonly loaded = new Map<string, Promise<Model>>();
  private gpuTurn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly modelOptions: LoadOptions,
    private readonly sha256File: (path: string) => Promise<string>,
  ) {}

  async get(spec: JobSpec): Promise<Model> {
    let model = this.loaded.get(spec.modelSha256);
    if (!model) {
      model = (async () => {
        const sha = await this.sha256File(spec.model);
        if (sha !== spec.modelSha256) throw new Error(`${spec.model}: not the model the job was submitted with (sha256 ${sha.slice(0, 12)}…, expected ${spec.modelSha256.slice(0, 12)}…)`);
        return loadModel(spec.model, this.modelOptions);
      })();
      this.loaded.set(spec.modelSha256, model);
      // A failed load is retried on the next shard (the file may appear on a lagging shared filesystem).
      model.catch(() => this.loaded.delete(spec.modelSha256));
    }
    return model;
  }

  /** Runs `work` when the GPU is free. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.gpuTurn.then(work, work);
    this.gpuTurn = run.catch(() => {});
    return run;
  }

  async dispose(): Promise<void> {
    for (const m of this.loaded.values()) (await m.catch(() => undefined))?.dispose();
    this.loaded.clear();
  }
}

export async function runWorker(options: WorkerOptions): Promise<void> {
  const id = `${hostname()}:${process.pid}`;
  const { log } = options;
  let lastRedisError = '';
  const connection = connectWorker(options.redisUrl, (err) => {
    // Printed once per distinct error, so a Redis restart shows as one line, not one per retry.
    if (err.message !== lastRedisError) log(`redis: ${err.message} (retrying)`);
    lastRedisError = err.message;
  });
  connection.on('ready', () => {
    if (lastRedisError) log(`redis: connected again`);
    lastRedisError = '';
  });
  const store = new JobStore(connection);
  const models = new Models(options.modelOptions, options.sha256File);
  const npy = new NpyCache();

  const processShard = async (job: Job<ShardData>): Promise<string> => {
    const { job: name, shard: index } = job.data;
    // Read for every shard: a job removed and submitted again under its name has another spec.
    const spec = await store.spec(name);
    // Removed (rcae queue clean) while this shard was queued: nothing to do.
    if (!spec) return 'job removed';
    if (await store.isCancelled(name)) return 'cancelled';
    if (await store.hasResult(name, index)) return 'already done';
    const started = Date.now();
    await store.markStarted(name, started);
    try {
      const shard = await store.shard(name, index);
      const model = await models.get(spec);
      const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
      const scores = await scoreShard(shard, spec.cwd, shape, spec.batch, (x) => models.exclusive(() => model.reconstructionError(x)), npy);
      const stored = await store.storeResult(spec, index, { ...scores, worker: id }, Date.now());
      const failures = Object.keys(scores.reasons).length;
      log(`${name} shard ${index}: ${shard.count} inputs${failures ? ` (${failures} unreadable)` : ''} in ${((Date.now() - started) / 1000).toFixed(2)} s${stored ? '' : ', already stored by another worker'}`);
      return stored ? 'stored' : 'already done';
    } catch (err) {
      const message = (err as Error).message.split('\n')[0];
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log(`${name} shard ${index}: attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1} failed: ${message}`);
      if (final) await store.storeFailure(spec, index, message);
      throw err;
    }
  };

  const worker = new Worker<ShardData, string>(QUEUE_NAME, processShard, {
    connection,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    // A shard whose worker died is retaken this many times before it counts as failed.
    maxStalledCount: 5,
    name: id,
  });
  worker.on('error', (err) => {
    if (err.message !== lastRedisError) log(`queue: ${err.message}`);
  });
  log(`worker ${id} on ${describeUrl(options.redisUrl)}, queue ${QUEUE_NAME}, concurrency ${options.concurrency}`);

  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = () => {
    log('stopping after the shards in progress');
    stop();
  };
  signals.forEach((s) => process.once(s, onSignal));

  let idleTimer: NodeJS.Timeout | undefined;
  let counts: Queue | undefined;
  if (options.exitWhenIdle) {
    counts = new Queue(QUEUE_NAME, { connection });
    const check = async () => {
      try {
        const c = await counts!.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        if (Object.values(c).every((n) => n === 0)) {
          log('queue is empty; exiting');
          stop();
          return;
        }
      } catch {
        // Redis is away for now; look again later.
      }
      idleTimer = setTimeout(() => void check(), 1000);
    };
    // The first look waits a moment so a worker started together with `submit` does not leave at once.
    idleTimer = setTimeout(() => void check(), 2000);
  }

  await stopped;
  clearTimeout(idleTimer);
  signals.forEach((s) => process.off(s, onSignal));
  await worker.close();
  await counts?.close();
  await models.dispose();
  await connection.quit().catch(() => connection.disconnect());
}
