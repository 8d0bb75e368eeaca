// `rcae serve` as a user runs it, in a child process: the curl example of docs/service.md gives what
// `rcae detect` gives (for the default mse and for --score), and SIGTERM stops accepting, finishes the request in flight, exits 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';
import { bytes, startServe, until } from './support.js';

const sample = (name: string) => join(repoRoot, 'samples', name);

test('POST /v1/detect with a sample gives the label and error of rcae detect; SIGINT stops it with 0', async () => {
  const server = await startServe([]);
  try {
    for (const name of ['noise-1.png', 'scene-1.png']) {
      const res = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: bytes(readFileSync(sample(name))) });
      const answer = (await res.json()) as { error: number; threshold: number; label: string };
      const row = JSON.parse(rcae(['detect', '--format', 'jsonl', sample(name)]).stdout);
      assert.is(answer.label, row.label, name);
      assert.is(answer.error, row.error, name);
      assert.is(answer.threshold, row.threshold, name);
    }
    server.child.kill('SIGINT');
    assert.is(await server.exited, 0);
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('--score hf and atypical: the score, threshold and label of rcae detect --score (with and without the reconstruction of the same pass), the score in /v1/model', async () => {
  const reconstructions: string[] = [];
  for (const score of ['hf', 'atypical']) {
    const server = await startServe(['--score', score]);
    try {
      const model = (await (await fetch(`${server.url}/v1/model`)).json()) as { score: string; default_threshold: number };
      assert.is(model.score, score);
      for (const name of ['noise-1.png', 'scene-1.png']) {
        const row = JSON.parse(rcae(['detect', '--score', score, '--format', 'jsonl', sample(name)]).stdout);
        for (const query of ['', '?reconstruction=1']) {
          const res = await fetch(`${server.url}/v1/detect${query}`, { method: 'POST', body: bytes(readFileSync(sample(name))) });
          const answer = (await res.json()) as { error: number; threshold: number; label: string; reconstruction_png?: string };
          assert.equal([answer.error, answer.threshold, answer.label], [row.error, row.threshold, row.label], `${score} ${name}${query}`);
          assert.is(answer.threshold, model.default_threshold);
          assert.is(answer.reconstruction_png !== undefined, query !== '', `${score} ${name}${query}: reconstruction`);
          if (answer.reconstruction_png) reconstructions.push(answer.reconstruction_png);
        }
      }
    } finally {
      server.child.kill('SIGKILL');
    }
  }
  // One model, whatever the score: the same reconstruction of each image.
  assert.equal(reconstructions.slice(0, 2), reconstructions.slice(2));
  assert.is.not(reconstructions[0], reconstructions[1]);
});

test('SIGTERM: the request in flight is answered, new connections are refused, exit 0', async () => {
  // A long batching delay keeps the request queued while the signal arrives.
  const server = await startServe(['--max-delay-ms', '1500', '--shutdown-ms', '20000']);
  const form = new FormData();
  for (const name of ['scene-2.png', 'noise-2.png']) form.append('image', new Blob([bytes(readFileSync(sample(name)))]), name);
  const inFlight = fetch(`${server.url}/v1/detect/batch`, { method: 'POST', body: form });
  await until(async () => /^rcae_queue_depth 2$/m.test(await (await fetch(`${server.url}/metrics`)).text()), 20_000, 'the request to be queued');
  const signalled = Date.now();
  server.child.kill('SIGTERM');
  const res = await inFlight;
  assert.is(res.status, 200);
  const rows = (await res.json()) as { input: string; label: string }[];
  assert.equal(rows.map((r) => [r.input, r.label]), [['scene-2.png', 'REAL'], ['noise-2.png', 'FAKE']]);
  assert.is(await server.exited, 0);
  assert.ok(Date.now() - signalled < 20_000);
  await fetch(`${server.url}/healthz`).then(
    () => assert.unreachable('a stopped server answered'),
    (err: Error) => assert.match(String((err.cause as Error | undefined)?.message ?? err.message), /ECONNREFUSED|fetch failed/),
  );
  const stopped = server.lines.find((l) => l.event === 'stopped');
  assert.is(stopped?.unfinished, 0);
});

test.run();
