// What Redis holds is read as untrusted: anyone who can write to the Redis can forge a job, and a
// key can be damaged. Every spec, shard, result and queue entry is parsed here and checked against
// stated bounds before anything is sized from it (a shard claiming 1e9 inputs is refused, not
// allocated); a failure is a StoredDataError naming the job and the shard, one line.

import { quotedMessage } from '../printable.js';
import { QueueError } from './connection.js';
import type { Shard, ShardRun } from './manifest.js';
import type { JobSpec, ShardResult } from './store.js';

/** Bounds on one job; `submit` refuses more, and every reader refuses stored data beyond them. */
export const LIMITS = {
  /** Inputs per shard (--shard-size). */
  shardSize: 65_536,
  /** Shards per job. */
  shards: 1_000_000,
  /** Inputs per job. */
  inputs: 100_000_000,
  /** Samples per GPU batch (--batch); 1,024 samples of 3x128x128 are 192 MiB. */
  batch: 1024,
  /** Tries per shard (--attempts). */
  attempts: 100,
  /** First retry delay (--backoff-ms): one hour. */
  backoffMs: 3_600_000,
  /** One path, archive member name or directory, in UTF-16 units (Linux's PATH_MAX is 4,096 bytes). */
  pathLength: 4096,
  /** A job's stored spec. */
  specBytes: 64 << 10,
  /** One stored shard (its paths); submit refuses a shard whose paths are longer (use a smaller --shard-size). */
  shardBytes: 64 << 20,
  /** One stored shard result; a worker's reasons are cut to `reasonLength`, so 65,536 of them fit. */
  resultBytes: 64 << 20,
  /** One reason for an input or shard that could not be scored. */
  reasonLength: 500,
  /** Bytes asked of Redis in one reply when reading shards or results. */
  replyBytes: 64 << 20,
} as const;

/** Stored data that does not parse or is out of bounds; the message names the job and the shard. */
export class StoredDataError extends QueueError {
  override readonly kind = 'format';
}

const JOB_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export const isJobName = (name: string): boolean => JOB_NAME.test(name);

export function checkJobName(name: string): string {
  if (!isJobName(name)) throw new QueueError(`job name '${quotedMessage(name, 120)}' must start with a letter and hold only letters, digits, '.', '_' and '-' (at most 100)`);
  return name;
}

/** A reason as stored and shown: one printable line of at most LIMITS.reasonLength characters. */
export const storedReason = (text: string): string => quotedMessage(text.split('\n')[0], LIMITS.reasonLength);

type Problem = (what: string) => never;

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isPath = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= LIMITS.pathLength && !v.includes('\0');

function parseJson(json: string, fail: Problem): unknown {
  try {
    return JSON.parse(json);
  } catch (err) {
    return fail(`not JSON (${quotedMessage((err as Error).message, 80)})`);
  }
}

function objectOf(value: unknown, fail: Problem): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  return value as Record<string, unknown>;
}

function failer(prefix: string): Problem {
  return (what) => {
    throw new StoredDataError(`${prefix}: ${what}`);
  };
}

/** The number of inputs shard `index` of `spec` holds (all shards are full but the last). */
export const shardCountOf = (spec: JobSpec, index: number): number => Math.min(spec.shardSize, spec.inputCount - index * spec.shardSize);

export function parseSpec(json: string, name: string): JobSpec {
  const fail: Problem = failer(`job ${name}: stored spec`);
  if (json.length > LIMITS.specBytes) fail(`is ${json.length} bytes (limit ${LIMITS.specBytes})`);
  const s = objectOf(parseJson(json, fail), fail);
  if (s.name !== name) fail('names another job');
  for (const key of ['cwd', 'model'] as const) if (!isPath(s[key]) || !(s[key] as string).startsWith('/')) fail(`${key} is not an absolute path of at most ${LIMITS.pathLength} characters`);
  for (const key of ['modelSha256', 'fingerprint'] as const) if (typeof s[key] !== 'string' || !HEX64.test(s[key] as string)) fail(`${key} is not a SHA-256 in hex`);
  if (typeof s.level !== 'string' || s.level.length > 100) fail('level is not a short string');
  if (typeof s.threshold !== 'number' || !Number.isFinite(s.threshold)) fail('threshold is not a finite number');
  if (!isInt(s.batch, 1, LIMITS.batch)) fail(`batch is not an integer in 1..${LIMITS.batch}`);
  if (!isInt(s.shardSize, 1, LIMITS.shardSize)) fail(`shardSize is not an integer in 1..${LIMITS.shardSize}`);
  if (!isInt(s.inputCount, 0, LIMITS.inputs)) fail(`inputCount is not an integer in 0..${LIMITS.inputs}`);
  if (!isInt(s.shardCount, 0, LIMITS.shards) || s.shardCount !== Math.ceil((s.inputCount as number) / (s.shardSize as number))) fail('shardCount does not match inputCount and shardSize');
  if (!isInt(s.attempts, 1, LIMITS.attempts)) fail(`attempts is not an integer in 1..${LIMITS.attempts}`);
  if (typeof s.createdAt !== 'number' || !Number.isFinite(s.createdAt)) fail('createdAt is not a time');
  return s as unknown as JobSpec;
}

function runSize(run: unknown, fail: Problem): number {
  const r = objectOf(run, fail);
  const paths = (list: unknown, what: string) => {
    if (!Array.isArray(list) || list.length === 0 || list.length > LIMITS.shardSize || !list.every(isPath)) fail(`a run's ${what} are not a list of 1..${LIMITS.shardSize} paths`);
    return list.length;
  };
  if (r.kind === 'images') return paths(r.paths, 'paths');
  if (!isPath(r.path)) fail(`a ${String(r.kind).slice(0, 20)} run's path is not a path of at most ${LIMITS.pathLength} characters`);
  if (r.kind === 'npy') {
    if (!isInt(r.start, 0, LIMITS.inputs) || !isInt(r.count, 1, LIMITS.shardSize)) fail(`an npy run's start or count is out of bounds (count 1..${LIMITS.shardSize})`);
    return r.count as number;
  }
  if (r.kind === 'archive') {
    if (!isInt(r.first, 0, LIMITS.inputs)) fail('an archive run\'s first member is out of bounds');
    return paths(r.members, 'members');
  }
  return fail('a run is not of kind images, npy or archive');
}

/** Shard `index` of `spec`, checked: its place in the job, its size and every run. */
export function parseShard(json: string, spec: JobSpec, index: number): Shard {
  const fail: Problem = failer(`job ${spec.name} shard ${index}: stored shard`);
  if (json.length > LIMITS.shardBytes) fail(`is ${json.length} bytes (limit ${LIMITS.shardBytes})`);
  const s = objectOf(parseJson(json, fail), fail);
  const count = shardCountOf(spec, index);
  if (s.index !== index || s.offset !== index * spec.shardSize) fail(`says it is shard ${String(s.index).slice(0, 20)} at input ${String(s.offset).slice(0, 20)}, expected shard ${index} at ${index * spec.shardSize}`);
  if (s.count !== count) fail(`holds ${String(s.count).slice(0, 20)} inputs, expected ${count}`);
  if (!Array.isArray(s.runs) || s.runs.length === 0 || s.runs.length > count) fail(`runs are not a list of 1..${count}`);
  let total = 0;
  for (const run of s.runs as unknown[]) total += runSize(run, fail);
  if (total !== count) fail(`runs hold ${total} inputs, expected ${count}`);
  return s as unknown as Shard;
}

const isError = (e: unknown) => e === null || (typeof e === 'number' && Number.isFinite(e)) || e === 'NaN' || e === 'Infinity' || e === '-Infinity';

/** The result of shard `index` of `spec`, checked: one error per input, reasons by position. */
export function parseResult(json: string, spec: JobSpec, index: number): ShardResult {
  const fail: Problem = failer(`job ${spec.name} shard ${index}: stored result`);
  if (json.length > LIMITS.resultBytes) fail(`is ${json.length} bytes (limit ${LIMITS.resultBytes})`);
  const r = objectOf(parseJson(json, fail), fail);
  const count = shardCountOf(spec, index);
  if (!Array.isArray(r.errors) || r.errors.length !== count) fail(`does not hold ${count} errors`);
  if (!(r.errors as unknown[]).every(isError)) fail('holds an error that is not a number, NaN, Infinity or null');
  const reasons = objectOf(r.reasons, fail);
  for (const [k, v] of Object.entries(reasons)) {
    if (!isInt(Number(k), 0, count - 1) || typeof v !== 'string') fail('holds a reason that is not text for one of its inputs');
    reasons[k] = storedReason(v);
  }
  return { errors: r.errors as ShardResult['errors'], reasons: reasons as Record<number, string>, worker: typeof r.worker === 'string' ? storedReason(r.worker) : '?' };
}

/** What a shard's queue entry carries: the job's name and the shard's index. */
export interface ShardData {
  job: string;
  shard: number;
}

/** A queue entry's data, checked; `id` is the queue entry's id, for the message. */
export function parseShardData(data: unknown, id: string): ShardData {
  const fail: Problem = failer(`queue entry ${quotedMessage(id, 120)}`);
  const d = objectOf(data, fail);
  if (typeof d.job !== 'string' || !isJobName(d.job)) fail('names no valid job (data.job)');
  if (!isInt(d.shard, 0, LIMITS.shards - 1)) fail(`names no shard (data.shard is not an integer in 0..${LIMITS.shards - 1})`);
  return { job: d.job, shard: d.shard as number };
}

/** An integer counter of the job's hash, or undefined when absent or out of 0..max. */
export function storedCount(value: string | undefined, max: number): number | undefined {
  if (value === undefined || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= max ? n : undefined;
}

/**
 * Checks what submit is about to store against LIMITS, so that no worker refuses it; the message
 * says which option to change.
 */
export function checkSubmittable(spec: JobSpec, shards: readonly Shard[]): void {
  const over = (what: string) => {
    throw new QueueError(what);
  };
  if (spec.inputCount > LIMITS.inputs) over(`${spec.inputCount} inputs is more than a job may hold (${LIMITS.inputs}); submit them as several jobs`);
  if (spec.shardCount > LIMITS.shards) over(`${spec.shardCount} shards is more than a job may hold (${LIMITS.shards}); use a larger --shard-size`);
  for (const path of [spec.cwd, spec.model]) if (!isPath(path)) over(`${quotedMessage(path, 120)}: a path longer than ${LIMITS.pathLength} characters cannot be queued`);
  for (const shard of shards) {
    for (const run of shard.runs as ShardRun[]) {
      const names = run.kind === 'images' ? run.paths : run.kind === 'archive' ? [run.path, ...run.members] : [run.path];
      const long = names.find((n) => !isPath(n));
      if (long !== undefined) over(`${quotedMessage(long, 120)}: a path or member name longer than ${LIMITS.pathLength} characters (or holding NUL) cannot be queued`);
    }
    const json = JSON.stringify(shard);
    const bytes = Buffer.byteLength(json);
    if (bytes > LIMITS.shardBytes) over(`shard ${shard.index}'s paths take ${bytes} bytes, more than ${LIMITS.shardBytes}; use a smaller --shard-size`);
    parseShard(json, spec, shard.index);
  }
  parseSpec(JSON.stringify(spec), spec.name);
}
