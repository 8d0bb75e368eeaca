// The job store's guarantees against a real redis-server, without workers: a job name is taken
// once (atomically, shards and spec together), a shard's result is stored and counted once, and a
// result computed for an earlier job of the same name is dropped.
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Shard } from '../../src/queue/manifest.js';
import { collectRows } from '../../src/queue/jobs.js';
import { JobStore, keys, type JobSpec, type ShardResult } from '../../src/queue/store.js';
import type { StoredDataError } from '../../src/queue/stored.js';
import { redisServerMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { requires } from '../helpers/skip.js';

const suiteTest = suite('queue store');
const missing = redisServerMissing();
const test = requires(suiteTest, missing, { ci: true });

let redis: RedisServer;
let client: Redis;

const shardsOf = (paths: string[]): Shard[] => paths.map((p, index) => ({ index, offset: index, count: 1, runs: [{ kind: 'images', paths: [p] }] }));
/** A SHA-256 in hex that starts with `tag` (hex digits). */
const hex = (tag: string) => tag.padEnd(64, '0');
const specOf = (name: string, fingerprint: string, shardCount: number): JobSpec => ({
  name, cwd: '/', model: '/m', modelSha256: hex('ab'), level: 'balanced', threshold: 0.5, batch: 8, shardSize: 1,
  shardCount, inputCount: shardCount, attempts: 3, fingerprint: hex(fingerprint), createdAt: 0,
});
/** Narrows what the store read to a value, failing the test on a StoredDataError. */
function ok<T>(value: T | StoredDataError | undefined): T {
  if (value === undefined || value instanceof Error) throw new Error(`expected a stored value, got ${value}`);
  return value;
}
const failedShards = async (store: JobStore, name: string) => (await store.settledCounts(name)).failed;
const result = (error: number | null, worker: string): ShardResult => ({ errors: [error], reasons: error === null ? { 0: 'bad' } : {}, worker });

suiteTest.before(async () => {
  if (missing) return;
  redis = await startRedis();
  client = await redis.client();
});

suiteTest.after(async () => {
  await redis?.stop();
});

test('a name is taken once: concurrent creates of different jobs leave exactly one, with its own shards', async () => {
  const store = new JobStore(client);
  const a = specOf('race', 'fa', 3);
  const b = specOf('race', 'fb', 2);
  const outcomes = await Promise.all([store.create(a, shardsOf(['a0', 'a1', 'a2'])), store.create(b, shardsOf(['b0', 'b1']))]);
  assert.is(outcomes.filter((o) => o === undefined).length, 1, 'one create wins');
  const winner = (await store.spec('race'))!;
  const loser = outcomes.find((o) => o !== undefined)!;
  assert.is(loser.fingerprint, winner.fingerprint, 'the loser is told the winner');
  const shards = (await store.shards(winner, 0, winner.shardCount)).map(ok);
  assert.equal(shards.map((s) => (s.runs[0] as { paths: string[] }).paths[0][0]), new Array(winner.shardCount).fill(winner.fingerprint[1]));
  assert.is(await client.hlen(keys('race').shards), winner.shardCount, 'no shard of the loser left behind');
  assert.equal((await client.keys('rcae:{race}:shards:staging-*')), [], 'staging keys removed');
});

test('a shard stored twice keeps the first result and is counted once; a failure after a result is ignored', async () => {
  const store = new JobStore(client);
  const spec = specOf('twice', 'f1', 2);
  assert.is(await store.create(spec, shardsOf(['x', 'y'])), undefined);
  assert.is(await store.storeResult(spec, 0, result(0.25, 'w1'), 10), true);
  assert.is(await store.storeResult(spec, 0, result(0.25, 'w2'), 11), false);
  assert.is(await store.storeResult(spec, 1, result(null, 'w2'), 12), true);
  await store.storeFailure(spec, 1, 'too late');
  const [r0] = await store.results(spec, 0, 1);
  assert.is(ok(r0).worker, 'w1');
  const c = await store.counters(spec);
  assert.equal([c.doneInputs, c.rowFailures, c.lastDoneAt], [2, 1, 12]);
  assert.is(await failedShards(store, 'twice'), 0);
  assert.is((await store.settledCounts('twice')).done, 2);
});

test('a non-finite error survives the JSON of a result and is collected as INVALID, never REAL', async () => {
  const store = new JobStore(client);
  const spec = specOf('nan', 'f2', 3);
  assert.is(await store.create(spec, shardsOf(['ok', 'nan', 'inf'])), undefined);
  for (const [i, error] of ([0.25, 'NaN', 'Infinity'] as const).entries()) await store.storeResult(spec, i, { errors: [error], reasons: {}, worker: 'w' }, i);
  const rows = [];
  for await (const row of collectRows(client, spec, (m) => assert.unreachable(m))) rows.push(row);
  assert.equal(rows.map((r) => r.label), ['REAL', 'INVALID', 'INVALID']);
  assert.match(rows[1].reason ?? '', /^reconstruction error is NaN/);
  assert.is(JSON.stringify(rows[2].error), 'null');
  assert.equal((await store.counters(spec)).rowFailures, 0);
});

test('a result for an earlier job of the same name is dropped; removing a job removes its keys', async () => {
  const store = new JobStore(client);
  const old = specOf('again', 'a0', 1);
  await store.create(old, shardsOf(['x']));
  await store.remove('again');
  const fresh = specOf('again', 'a1', 1);
  assert.is(await store.create(fresh, shardsOf(['z'])), undefined);
  assert.is(await store.storeResult(old, 0, result(0.5, 'late'), 1), false);
  await store.storeFailure(old, 0, 'late failure');
  assert.is((await store.settledCounts('again')).done, 0);
  assert.is(await failedShards(store, 'again'), 0);
  assert.is(await store.storeResult(fresh, 0, result(0.5, 'w'), 2), true);
  await store.remove('again');
  assert.equal(await client.keys('rcae:{again}:*'), []);
});

suiteTest.run();
