// A bounded load test: 32 concurrent keep-alive connections for 8 s against `rcae serve` (bundled
// model) on 127.0.0.1, each posting distinct images in turn. Every answer must be 200 and equal to
// what `rcae detect` gives for the same file; the passes must have been shared (mean batch > 1).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';
import { SEED } from '../helpers/random.js';
import { bytes, distinctPngs, startServe } from './support.js';

const CONNECTIONS = 32;
const DURATION_MS = 8000;

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

test(`${CONNECTIONS} connections for ${DURATION_MS / 1000} s: no errors, every answer equals rcae detect (seed ${SEED})`, async () => {
  const dir = tempDir();
  const files = (await distinctPngs(24)).map((png, i) => {
    const path = join(dir, `image-${String(i).padStart(2, '0')}.png`);
    writeFileSync(path, png);
    return path;
  });
  const detect = rcae(['detect', '--format', 'jsonl', dir]);
  assert.is(detect.status, 0, detect.stderr);
  const expected = new Map<string, { error: number; label: string }>(detect.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.input, r]));
  const bodies = files.map((f) => bytes(readFileSync(f)));

  const server = await startServe([]);
  try {
    let answered = 0;
    const problems: string[] = [];
    const end = Date.now() + DURATION_MS;
    const started = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
      for (let i = c; Date.now() < end; i += CONNECTIONS) {
        const k = i % files.length;
        const res = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: bodies[k] });
        const answer = (await res.json()) as { error: number; label: string };
        const want = expected.get(files[k])!;
        if (res.status !== 200) problems.push(`${files[k]}: status ${res.status}`);
        else if (answer.error !== want.error || answer.label !== want.label) problems.push(`${files[k]}: ${answer.error} ${answer.label}, rcae detect: ${want.error} ${want.label}`);
        answered++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const meanBatch = metric(metrics, 'rcae_batch_size_sum') / metric(metrics, 'rcae_batch_size_count');
    console.log(`  load: ${answered} requests in ${seconds.toFixed(1)} s (${(answered / seconds).toFixed(1)}/s), mean batch ${meanBatch.toFixed(1)}`);
    assert.equal(problems.slice(0, 5), []);
    assert.ok(answered >= CONNECTIONS, `${answered} answers`);
    assert.ok(meanBatch > 1, `mean batch ${meanBatch}`);
    assert.is(metric(metrics, 'rcae_queue_depth'), 0);
  } finally {
    server.child.kill('SIGTERM');
    assert.is(await server.exited, 0);
  }
});

test.run();
