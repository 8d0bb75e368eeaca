// A queue worker: takes shards from the BullMQ queue, scores them with the job's model on one GPU
// adapter and stores each shard's rows once. BullMQ holds a lock on each shard in progress and
// renews it while the worker lives (the heartbeat); when a worker dies its lock expires and the
// shard goes back to the queue for another worker. Storing is idempotent (HSETNX), so a shard done
// twice (a worker that lost its lock and finished anyway) still yields one result.
//
// Every queue entry, spec and shard is checked before it is used (stored.ts); one that cannot run
// fails for good with its reason, never retried. Stopping is bounded whatever Redis does: stop()
// takes no more shards, lets those in progress finish for most of `shutdownMs`, then gives them
// back to the queue and drops the connection; abort() drops it at once.

import { hostname } from 'node:os';
import { Job, Queue, UnrecoverableError, WaitingError, Worker, type JobJson } from 'bullmq';
import type { Redis } from 'ioredis';
import type { LoadOptions } from '../model.js';
import { connectWorker, describeUrl } from './connection.js';
import { ShardFailure, worthRetrying } from './failure.js';
import { NpyCache, scoreShard } from './shard-scoring.js';
import { JobStore, QUEUE_NAME, shardJobId, type JobSpec } from './store.js';
import { parseShardData, StoredDataError, storedReason } from './stored.js';
import { WorkerModels, type HashFile } from './worker-models.js';

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
  /** The most stop() takes: shards in progress may finish until near its end, then are given back to the queue. */
  shutdownMs: number;
  /** SHA-256 of a job's model file (the platform's, which refuses anything but a regular file). */
  hashFile: HashFile;
  log: (line: string) => void;
}

/**
 * How a worker ended: `finished` (nothing in progress was left), `released` (shards still in
 * progress at the deadline were given back to the queue), `abandoned` (Redis did not confirm the
 * release; those shards return when their locks expire), `aborted` (abort(): nothing waited for).
 */
export type WorkerEnd = 'finished' | 'released' | 'abandoned' | 'aborted';

export interface RunningWorker {
  /** host:pid, as recorded with each result. */
  readonly id: string;
  /** How the worker ended, once stop() or abort() is done (or, with exitWhenIdle, once the queue is empty). */
  readonly ended: Promise<WorkerEnd>;
  /** Takes no more shards; finishes or releases those in progress within shutdownMs. */
  stop(why: string): void;
  /** Ends now: the connection is dropped, shards in progress return to the queue when their locks expire. */
  abort(): void;
  /** Shards this worker has taken so far and the GPU buffers its models hold. */
  stats(): { shards: number; liveGpuBuffers: number };
}

/** What the queue entry of a shard whose data is not JSON is given to process instead: the reason. */
interface DamagedData {
  damaged: string;
}

// Kept referenced: while a stop waits on them, nothing else may hold the process open.
const delay = (ms: number) => new Promise<'late'>((resolve) => setTimeout(resolve, ms, 'late'));

// The id of the active entry whose lock holds ARGV[1] (the token an entry was just taken with).
const ENTRY_LOCKED_BY = `
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if redis.call('GET', ARGV[2] .. id .. ':lock') == ARGV[1] then return id end
end
return false`;

/**
 * BullMQ parses an entry as it takes it and, when that fails, leaves the entry locked until its
 * lock expires, to be taken and fail again, forever (its stalled check records a failure it never
 * gets to apply). Here an entry whose data is not JSON is handed to the processor, which fails it;
 * one whose options or progress are not JSON is failed as soon as it is taken.
 */
class ShardWorker extends Worker<unknown, string> {
  constructor(processor: (job: Job<unknown, string>, token?: string) => Promise<string>, options: WorkerOptions, private readonly redis: Redis, id: string) {
    super(QUEUE_NAME, processor, {
      connection: redis,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      // A shard whose worker died is retaken this many times before it counts as failed.
      maxStalledCount: 5,
      name: id,
    });
  }

  protected override createJob(data: JobJson, jobId: string): Job<unknown, string> {
    try {
      return super.createJob(data, jobId);
    } catch (err) {
      const damaged: DamagedData = { damaged: `queue entry ${storedReason(jobId)}: data is not JSON (${storedReason((err as Error).message)})` };
      return super.createJob({ ...data, data: JSON.stringify(damaged) }, jobId);
    }
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<unknown, string>> {
    try {
      return await super.moveToActive(token, name);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const id = (await this.redis.eval(ENTRY_LOCKED_BY, 1, this.toKey('active'), token, this.toKey(''))) as string | null;
      if (id === null) throw err;
      const reason = `queue entry ${storedReason(id)}: options or progress are not JSON (${storedReason(err.message)})`;
      this.emit('error', new StoredDataError(`${reason}; failed without retrying`));
      await new Job(this, 'damaged', {}, {}, id).moveToFailed(new UnrecoverableError(reason), token, false);
      // No entry this time: the main loop asks again.
      return undefined as unknown as Job<unknown, string>;
    }
  }
}

/** A failure that no attempt can mend: BullMQ's own, or one whose kind says a retry gives the same answer (failure.ts). */
const unrecoverable = (err: unknown) => err instanceof UnrecoverableError || !worthRetrying(err);

export function startWorker(options: WorkerOptions): RunningWorker {
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
  const models = new WorkerModels(options.modelOptions, options.hashFile);
  const npy = new NpyCache();
  /** Shards being processed, with the lock token each was taken with (to give it back). */
  const inProgress = new Map<string, { job: Job<unknown, string>; token: string | undefined }>();
  let taken = 0;
  let stopping = false;

  /** Scores one shard; throws UnrecoverableError when it can never run (BullMQ then fails it without retrying). */
  const score = async (job: Job<unknown, string>): Promise<string> => {
    const entry = job.id ?? '?';
    if ((job.data as Partial<DamagedData>)?.damaged) throw new UnrecoverableError((job.data as DamagedData).damaged);
    let name: string;
    let index: number;
    let spec: JobSpec | undefined;
    try {
      ({ job: name, shard: index } = parseShardData(job.data, entry));
      if (entry !== shardJobId(name, index)) throw new StoredDataError(`queue entry ${storedReason(entry)}: its data names shard ${index} of ${name}, another entry`);
      spec = await store.spec(name);
      if (spec && index >= spec.shardCount) throw new StoredDataError(`queue entry ${entry}: job ${name} has ${spec.shardCount} shards, not ${index + 1}`);
    } catch (err) {
      if (!(err instanceof StoredDataError)) throw err;
      log(`${err.message}; failed without retrying`);
      throw new UnrecoverableError(err.message);
    }
    // Removed (rcae queue clean) while this shard was queued: nothing to do.
    if (!spec) return 'job removed';
    if (await store.isCancelled(name)) return 'cancelled';
    if (await store.hasResult(name, index)) return 'already done';
    const started = Date.now();
    await store.markStarted(name, started);
    // The job's own attempts bound the retries, whatever the queue entry says.
    const asked = Number(job.opts.attempts ?? 1);
    const attempts = asked >= 1 ? Math.min(asked, spec.attempts) : 1;
    try {
      const shard = await store.shard(spec, index);
      const model = await models.get(spec);
      const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
      const scores = await scoreShard(shard, spec.cwd, shape, spec.batch, (x) => models.exclusive(() => model.reconstructionError(x)), npy);
      const stored = await store.storeResult(spec, index, { ...scores, worker: id }, Date.now());
      const failures = Object.keys(scores.reasons).length;
      log(`${name} shard ${index}: ${shard.count} inputs${failures ? ` (${failures} unreadable)` : ''} in ${((Date.now() - started) / 1000).toFixed(2)} s${stored ? '' : ', already stored by another worker'}`);
      return stored ? 'stored' : 'already done';
    } catch (err) {
      const message = storedReason((err as Error).message);
      const final = unrecoverable(err) || job.attemptsMade + 1 >= attempts;
      log(`${name} shard ${index}: attempt ${job.attemptsMade + 1} of ${attempts} failed: ${message}${final ? '' : '; retrying'}`);
      if (!final) throw new ShardFailure(message, err);
      await store.storeFailure(spec, index, message);
      throw new UnrecoverableError(message);
    }
  };

  const processShard = async (job: Job<unknown, string>, token?: string): Promise<string> => {
    if (stopping) {
      // Taken as the worker began to stop: back to the queue, untouched.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    taken++;
    inProgress.set(job.id ?? '', { job, token });
    try {
      return await score(job);
    } finally {
      inProgress.delete(job.id ?? '');
    }
  };

  const worker = new ShardWorker(processShard, options, connection, id);
  worker.on('error', (err) => {
    if (err.message !== lastRedisError) log(`queue: ${storedReason(err.message)}`);
  });
  log(`worker ${id} on ${describeUrl(options.redisUrl)}, queue ${QUEUE_NAME}, concurrency ${options.concurrency}`);

  let abort: () => void = () => {};
  const aborted = new Promise<'aborted'>((resolve) => (abort = () => resolve('aborted')));
  let requestStop: (why: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => (requestStop = resolve));

  let idleTimer: NodeJS.Timeout | undefined;
  const counts = options.exitWhenIdle ? new Queue(QUEUE_NAME, { connection }) : undefined;
  if (counts) {
    const check = async () => {
      try {
        const c = await counts.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        if (Object.values(c).every((n) => n === 0)) return requestStop('the queue is empty');
      } catch {
        // Redis is away for now; look again later.
      }
      if (!stopping) idleTimer = setTimeout(() => void check(), 1000);
    };
    // The first look waits a moment so a worker started together with `submit` does not leave at once.
    idleTimer = setTimeout(() => void check(), 2000);
  }

  /** Closes gracefully if Redis and the shards in progress allow it within shutdownMs, else releases and drops. */
  const shutdown = async (why: string): Promise<WorkerEnd> => {
    stopping = true;
    clearTimeout(idleTimer);
    const releaseMs = Math.min(1000, Math.floor(options.shutdownMs / 4));
    log(`stopping (${why}): no new shards; ${inProgress.size} in progress get ${options.shutdownMs - releaseMs} ms to finish`);
    const graceful = (async (): Promise<'finished'> => {
      await worker.close();
      await counts?.close();
      await models.dispose();
      await connection.quit().catch(() => connection.disconnect());
      return 'finished';
    })();
    const first = await Promise.race([graceful, delay(options.shutdownMs - releaseMs), aborted]);
    if (first !== 'late') return first;
    const held = [...inProgress.values()];
    let end: WorkerEnd = 'finished';
    if (held.length > 0) {
      log(`${held.length} shard${held.length === 1 ? '' : 's'} still in progress: giving ${held.length === 1 ? 'it' : 'them'} back to the queue`);
      const release = ({ job, token }: (typeof held)[number]) => job.moveToWait(token).then(() => true, (err: Error) => {
        log(`could not give back ${job.id}: ${storedReason(err.message)}; it returns to the queue when its lock expires`);
        return false;
      });
      const outcome = await Promise.race([Promise.all(held.map(release)), delay(releaseMs), aborted]);
      if (outcome === 'aborted') return outcome;
      end = Array.isArray(outcome) && outcome.every(Boolean) ? 'released' : 'abandoned';
      if (outcome === 'late') log(`Redis did not confirm the release within ${releaseMs} ms; the shards return to the queue when their locks expire`);
    } else {
      log('closing did not complete in time (Redis not answering?); dropping the connection');
    }
    connection.disconnect();
    return end;
  };

  const ended = Promise.race([stopRequested.then(shutdown), aborted]).then((end) => {
    if (end === 'aborted') {
      stopping = true;
      clearTimeout(idleTimer);
      connection.disconnect();
    }
    return end;
  });

  return {
    id,
    ended,
    stop: (why) => requestStop(why),
    abort: () => abort(),
    stats: () => ({ shards: taken, liveGpuBuffers: models.liveBuffers() }),
  };
}
