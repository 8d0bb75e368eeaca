// Cutting inputs into shards (no Redis, no GPU): every sample once, in the order `rcae detect` reads
// them, shards of exactly the asked size except the last, the same shards on every enumeration.
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gatherSources } from '../../src/node/input-reader.js';
import { sampleBatches } from '../../src/node/input-batches.js';
import { enumerateShards, shardInputs } from '../../src/queue/manifest.js';
import { tempDir } from '../helpers/paths.js';
import { random, SEED } from '../helpers/random.js';
import { makeDataset } from './support.js';

const shape = { channels: 3, size: 128 };

test('shards hold every input once, in detect order, cut at the shard size across files, rows and members', async () => {
  const rng = random(SEED);
  const tmp = tempDir('rcae-manifest-');
  try {
    const count = rng.int(12, 30);
    const inputs = await makeDataset(tmp, count, SEED);
    // Any order of sources; the .npy (3 rows) and the archive (3 members) land inside shards.
    const args = [inputs[1], inputs[0], inputs[2]];
    const shardSize = rng.int(2, 7);
    const shards = await enumerateShards(args, shape, shardSize);
    const detectOrder: string[] = [];
    for await (const b of sampleBatches(gatherSources(args), shape, 5)) detectOrder.push(...b.inputs);
    assert.equal(shards.flatMap(shardInputs), detectOrder, `seed ${SEED}`);
    assert.is(shards.length, Math.ceil(count / shardSize));
    shards.forEach((s, i) => {
      assert.is(s.index, i);
      assert.is(s.offset, i * shardSize);
      assert.is(s.count, i < shards.length - 1 ? shardSize : count - i * shardSize);
      assert.is(shardInputs(s).length, s.count);
    });
    const npyRuns = shards.flatMap((s) => s.runs).filter((r) => r.kind === 'npy');
    assert.is(npyRuns.reduce((n, r) => n + (r.kind === 'npy' ? r.count : 0), 0), 3);
    assert.equal(JSON.stringify(await enumerateShards(args, shape, shardSize)), JSON.stringify(shards), 'stable');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a missing input is refused at submit, naming it', async () => {
  const err = await enumerateShards(['/nonexistent/x.png'], shape, 4).then(() => undefined, (e: Error) => e);
  assert.match(err?.message ?? 'no error', /\/nonexistent\/x\.png: no such file/);
});

test.run();
