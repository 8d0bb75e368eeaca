// What a queued job keeps in Redis besides BullMQ's own queue: its spec, its shards, one result per
// shard and the reason of each shard that failed for good. Keys share a {hash tag} per job so the
// Lua scripts below, which touch several of them, also work on Redis Cluster.
//
//   rcae:{NAME}:job      hash: spec (JSON), state (queued | cancelled), counters, times
//   rcae:{NAME}:shards   hash: shard index -> Shard JSON
//   rcae:{NAME}:results  hash: shard index -> ShardResult JSON, written once (HSETNX)
//   rcae:{NAME}:failed   hash: shard index -> reason, for shards that used up their attempts

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Shard } from './manifest.js';

/** The BullMQ queue every rcae job's shards go through; a shard's BullMQ job is named after its rcae job. */
export const QUEUE_NAME = 'rcae-shards';

export interface JobSpec {
  name: string;
  /** Working directory of `submit`: relative input paths resolve against it on every worker. */
  cwd: string;
  /** Absolute path of the model, which must be the same file on every worker (checked by SHA-256). */
  model: string;
  modelSha256: string;
  level: string;
  threshold: number;
  /** Samples per GPU batch on the workers. */
  batch: number;
  shardSize: number;
  shardCount: number;
  inputCount: number;
  attempts: number;
  /** Identifies the job's content (model, threshold, inputs, shards): an identical resubmission is recognised. */
  fingerprint: string;
  createdAt: number;
}

export interface ShardResult {
  /**
   * Per sample of the shard: the reconstruction error; 'NaN', 'Infinity' or '-Infinity' when it is
   * not finite (JSON has no such numbers; the row is labelled INVALID); null when the sample could
   * not be read.
   */
  errors: (number | string | null)[];
  /** Why a sample could not be read, by its position in the shard. */
  reasons: Record<number, string>;
  worker: string;
}

export interface JobCounters {
  state: 'queued' | 'cancelled';
  doneInputs: number;
  rowFailures: number;
  startedAt?: number;
  lastDoneAt?: number;
}

const JOB_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;

export function checkJobName(name: string): string {
  if (!JOB_NAME.test(name)) throw new Error(`job name '${name}' must start with a letter and hold only letters, digits, '.', '_' and '-' (at most 100)`);
  return name;
}

export const keys = (name: string) => ({
  job: `rcae:{${name}}:job`,
  shards: `rcae:{${name}}:shards`,
  results: `rcae:{${name}}:results`,
  failed: `rcae:{${name}}:failed`,
});

/** BullMQ job id of a shard: stable, so adding a shard twice is a no-op. */
export const shardJobId = (name: string, index: number) => `${name}.${index}`;

// Stores a shard's result only if none is stored yet, and counts it once; a result computed for an
// earlier job of the same name (removed and submitted again meanwhile) is dropped.
const STORE_RESULT = `
if redis.call('HGET', KEYS[2], 'fingerprint') ~= ARGV[6] then return 0 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'doneInputs', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'rowFailures', ARGV[4])
redis.call('HSET', KEYS[2], 'lastDoneAt', ARGV[5])
return 1`;

// Records a shard's final failure unless a result arrived meanwhile (a slower duplicate may finish).
const STORE_FAILURE = `
if redis.call('HGET', KEYS[3], 'fingerprint') ~= ARGV[3] then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])`;

// Creates a job from staged shards unless the name is taken (then returns the existing spec);
// leftovers of a removed job of the same name are cleared.
const CREATE_JOB = `
local existing = redis.call('HGET', KEYS[1], 'spec')
if existing then return existing end
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('RENAME', KEYS[3], KEYS[2])
redis.call('HSET', KEYS[1], 'spec', ARGV[1], 'fingerprint', ARGV[2], 'state', 'queued', 'doneInputs', 0, 'rowFailures', 0)
return false`;

const CHUNK = 1000;

export class JobStore {
  constructor(private readonly redis: Redis) {}

  /**
   * Creates the job unless one of that name exists, atomically: the shards are staged under a
   * temporary key and moved into place together with the spec. Returns the spec already stored under
   * the name, or undefined when this call created the job.
   */
  async create(spec: JobSpec, shards: readonly Shard[]): Promise<JobSpec | undefined> {
    const k = keys(spec.name);
    const staging = `${k.shards}:staging-${randomUUID()}`;
    try {
      for (let i = 0; i < shards.length; i += CHUNK) {
        const fields: string[] = [];
        for (const s of shards.slice(i, i + CHUNK)) fields.push(String(s.index), JSON.stringify(s));
        await this.redis.hset(staging, ...fields);
      }
      const existing = await this.redis.eval(CREATE_JOB, 5, k.job, k.shards, staging, k.results, k.failed, JSON.stringify(spec), spec.fingerprint);
      return typeof existing === 'string' ? (JSON.parse(existing) as JobSpec) : undefined;
    } finally {
      await this.redis.del(staging);
    }
  }

  async spec(name: string): Promise<JobSpec | undefined> {
    const json = await this.redis.hget(keys(name).job, 'spec');
    return json ? (JSON.parse(json) as JobSpec) : undefined;
  }

  async counters(name: string): Promise<JobCounters> {
    const h = await this.redis.hgetall(keys(name).job);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return {
      state: h.state === 'cancelled' ? 'cancelled' : 'queued',
      doneInputs: num(h.doneInputs) ?? 0,
      rowFailures: num(h.rowFailures) ?? 0,
      startedAt: num(h.startedAt),
      lastDoneAt: num(h.lastDoneAt),
    };
  }

  async isCancelled(name: string): Promise<boolean> {
    return (await this.redis.hget(keys(name).job, 'state')) === 'cancelled';
  }

  async cancel(name: string): Promise<void> {
    await this.redis.hset(keys(name).job, 'state', 'cancelled');
  }

  async markStarted(name: string, now: number): Promise<void> {
    await this.redis.hsetnx(keys(name).job, 'startedAt', now);
  }

  async shard(name: string, index: number): Promise<Shard> {
    const json = await this.redis.hget(keys(name).shards, String(index));
    if (!json) throw new Error(`job ${name}: shard ${index} is not stored`);
    return JSON.parse(json) as Shard;
  }

  /** Shards start .. start+count-1 (missing ones throw). */
  async shards(name: string, start: number, count: number): Promise<Shard[]> {
    const fields = Array.from({ length: count }, (_, i) => String(start + i));
    const values = await this.redis.hmget(keys(name).shards, ...fields);
    return values.map((json, i) => {
      if (!json) throw new Error(`job ${name}: shard ${start + i} is not stored`);
      return JSON.parse(json) as Shard;
    });
  }

  async hasResult(name: string, index: number): Promise<boolean> {
    return (await this.redis.hexists(keys(name).results, String(index))) === 1;
  }

  /** Stores the result of shard `index` of the job `spec` describes if it has none yet; true when this call stored it. */
  async storeResult(spec: JobSpec, index: number, result: ShardResult, now: number): Promise<boolean> {
    const k = keys(spec.name);
    const failures = result.errors.filter((e) => e === null).length;
    const stored = await this.redis.eval(STORE_RESULT, 3, k.results, k.job, k.failed,
      String(index), JSON.stringify(result), result.errors.length, failures, now, spec.fingerprint);
    return stored === 1;
  }

  async storeFailure(spec: JobSpec, index: number, reason: string): Promise<void> {
    const k = keys(spec.name);
    await this.redis.eval(STORE_FAILURE, 3, k.results, k.failed, k.job, String(index), reason, spec.fingerprint);
  }

  /** Results of shards start .. start+count-1; undefined where none is stored. */
  async results(name: string, start: number, count: number): Promise<(ShardResult | undefined)[]> {
    const fields = Array.from({ length: count }, (_, i) => String(start + i));
    const values = await this.redis.hmget(keys(name).results, ...fields);
    return values.map((json) => (json ? (JSON.parse(json) as ShardResult) : undefined));
  }

  async failures(name: string): Promise<Map<number, string>> {
    const h = await this.redis.hgetall(keys(name).failed);
    return new Map(Object.entries(h).map(([k, v]) => [Number(k), v]));
  }

  async doneShardIndices(name: string): Promise<Set<number>> {
    return new Set((await this.redis.hkeys(keys(name).results)).map(Number));
  }

  async doneShards(name: string): Promise<number> {
    return this.redis.hlen(keys(name).results);
  }

  async remove(name: string): Promise<void> {
    const k = keys(name);
    await this.redis.del(k.job, k.shards, k.results, k.failed);
  }
}

/** Reads shards (or results) of a job in chunks, so a job of any size is never held in one reply. */
export async function* inChunks<T>(total: number, read: (start: number, count: number) => Promise<T[]>): AsyncGenerator<{ start: number; items: T[] }> {
  for (let start = 0; start < total; start += CHUNK) yield { start, items: await read(start, Math.min(CHUNK, total - start)) };
}
