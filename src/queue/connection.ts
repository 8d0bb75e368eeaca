// Redis connections. Commands that ask once (submit, status, collect, cancel) fail fast with one
// line when Redis cannot be reached; workers wait and reconnect, so a Redis restart only pauses them.

import { Redis } from 'ioredis';
import { type ErrorKind, RcaeError } from '../errors.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A job, queue or Redis that cannot be used as asked (no such job, a bad name or URL, Redis unreachable). */
export class QueueError extends RcaeError {
  readonly kind: ErrorKind = 'input';
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueError(`--redis '${url}' is not a URL (expected redis://HOST:PORT[/DB] or rediss://...)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new QueueError(`--redis '${url}': expected a redis:// or rediss:// URL`);
  return url;
}

/** Where the URL points, without any password it holds, for messages. */
export function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** A connection for a short command: a few quick attempts, then an error naming the server. */
export async function connectClient(url: string): Promise<Redis> {
  const redis = new Redis(checkUrl(url), {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
  });
  // Errors surface through the rejected commands; the event would otherwise be printed by ioredis.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new QueueError(`cannot connect to Redis at ${describeUrl(url)}: ${(err as Error).message}`);
  }
  return redis;
}

/** A connection for a long-running worker: commands wait while Redis is away (BullMQ requires this). */
export function connectWorker(url: string, onError: (err: Error) => void): Redis {
  const redis = new Redis(checkUrl(url), {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
  redis.on('error', onError);
  return redis;
}
