// A queue worker decides whether a failed shard is tried again by the kind of its error
// (queue/failure.ts), never by its class: a real redis-server, a real worker (startWorker, as
// `rcae worker` runs it) and one job per kind whose model file fails to open with an error of that
// kind (the worker's hashFile option throws it). Retried kinds use both of the job's attempts, the
// others fail on the first; either way the shard's stored failure is the error's one line.
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_KINDS, FormatError, InputError, InternalError, LimitError, UsageError, type ErrorKind, type RcaeError } from '../../src/errors.js';
import { GpuError } from '../../src/gpu/device.js';
import { RETRIED_KINDS, ShardFailure, worthRetrying } from '../../src/queue/failure.js';
import { JobStore } from '../../src/queue/store.js';
import { StoredDataError } from '../../src/queue/stored.js';
import { submitJob } from '../../src/queue/submit.js';
import { startWorker } from '../../src/queue/worker.js';
import { tempDir } from '../helpers/paths.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';

const suiteTest = suite('queue/failure');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });

const THROWN: Record<ErrorKind, (path: string) => RcaeError> = {
  usage: (p) => new UsageError(`${p}: probe usage`),
  input: (p) => new InputError(`${p}: probe input`),
  format: (p) => new FormatError(`${p}: probe format`),
  limit: (p) => new LimitError(`${p}: probe limit`),
  device: (p) => new GpuError(`${p}: probe device`),
  internal: (p) => new InternalError(`${p}: probe internal`),
};

let redis: RedisServer;
const dir = tempDir();

suiteTest.before(async () => {
  if (missing) return;
  redis = await startRedis();
});

suiteTest.after(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the table says for every kind whether a retry may help; an error outside the family is retried as internal', () => {
  assert.equal(Object.keys(RETRIED_KINDS).sort(), [...ERROR_KINDS].sort());
  assert.equal(RETRIED_KINDS, { usage: false, input: true, format: false, limit: false, device: true, internal: true });
  assert.is(worthRetrying(new StoredDataError('damaged')), false);
  assert.is(worthRetrying(new TypeError('x')), true);
  assert.is(new ShardFailure('shard 0: x', new LimitError('x')).kind, 'limit');
});

test('a real worker retries a shard whose error kind may pass and fails the others at once, storing the reason', async () => {
  const image = join(dir, 'one.png');
  writeFileSync(image, await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer());
  const client = await redis.client();
  const store = new JobStore(client);
  const specs = [];
  for (const [i, kind] of ERROR_KINDS.entries()) {
    const { spec } = await submitJob(client, {
      name: `kind-${kind}`, inputs: [image], cwd: dir, model: join(dir, `${kind}.ckpt`), modelSha256: String(i).padEnd(64, '0'),
      shape: { channels: 3, size: 128 }, level: 'balanced', threshold: 0.5, shardSize: 1, batch: 1, attempts: 2, backoffMs: 50,
    });
    specs.push(spec);
  }
  const lines: string[] = [];
  const worker = startWorker({
    redisUrl: redis.url, modelOptions: {}, concurrency: 1, lockDurationMs: 30_000, stalledIntervalMs: 30_000, exitWhenIdle: true, shutdownMs: 5000,
    // The model file each job names fails to open with the kind its name holds.
    hashFile: async (path) => {
      throw THROWN[/(\w+)\.ckpt$/.exec(path)![1] as ErrorKind](path);
    },
    log: (line) => lines.push(line),
  });
  assert.is(await worker.ended, 'finished');
  const log = lines.join('\n');
  for (const [i, kind] of ERROR_KINDS.entries()) {
    const attempts = lines.filter((l) => l.startsWith(`kind-${kind} shard 0: attempt `));
    const reason = `${join(dir, `${kind}.ckpt`)}: probe ${kind}`;
    if (RETRIED_KINDS[kind]) {
      assert.equal(attempts, [`kind-${kind} shard 0: attempt 1 of 2 failed: ${reason}; retrying`, `kind-${kind} shard 0: attempt 2 of 2 failed: ${reason}`], log);
    } else {
      assert.equal(attempts, [`kind-${kind} shard 0: attempt 1 of 2 failed: ${reason}`], log);
    }
    assert.equal(await store.failures(specs[i], 0, 1), [reason]);
  }
  client.disconnect();
});

suiteTest.run();
