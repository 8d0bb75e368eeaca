// Issue 19, item 4: the CLI's memory is bounded whatever the input. Archive members are bounded like
// image files: a member over the per-image limit is refused before it is read; members and files
// decode within one byte budget (their tensors equal to unbounded decoding); and `rcae score` on a
// 3 MB .tar.gz of eight 8192 x 8192 PNGs stored uncompressed (201 MB each once inflated) stays
// within 1 GiB of RSS (its time: bench/NOTES.md). A .npy is read a row at a time: the largest one
// accepted (1 GiB), as a file or on standard input, stays within the same bound.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeRgb8, DecodeBudget, IMAGE_LIMITS, ImageError } from '../../src/image/preprocess.js';
import { gatherSources } from '../../src/node/input-reader.js';
import { sampleBatches, type SampleBatch } from '../../src/node/input-batches.js';
import { MAX_NPY_BYTES } from '../../src/io/npy.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { random, SEED } from '../helpers/random.js';
import { rcae } from '../helpers/rcae.js';
import { npyOf, pngWithFiller, repeatedMemberTarGz, storedPng, tarClaiming, tarGzOf } from './build.js';

const test = suite('hostile/input-memory');
const tmp = tempDir('rcae-hostile-memory-');
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const GIB = 1 << 30;
/**
 * Makes every process of the command report its peak RSS on stderr when it exits (the CLI runs two).
 * VmHWM, not getrusage's maxrss: Linux carries maxrss across fork and exec, so a child of this large
 * test process would report this process's peak as its own.
 */
const PEAK_HOOK = `data:text/javascript;base64,${Buffer.from(`
  import { readFileSync } from 'node:fs';
  process.on('exit', () => {
    const kib = /^VmHWM:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1];
    process.stderr.write('rcae-test-peak-rss ' + kib * 1024 + '\\n');
  });`).toString('base64')}`;

/** `rcae ARGS` and the sum of the peak RSS of its processes (parent and worker child), in bytes. */
function rcaeWithPeak(args: string[], stdin?: string): { status: number | null; stdout: string; stderr: string; peakBytes: number } {
  const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', NODE_OPTIONS: `--import=${PEAK_HOOK}` };
  const input = stdin === undefined ? 'ignore' : openSync(stdin, 'r');
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), ...args], { encoding: 'utf8', env, stdio: [input, 'pipe', 'pipe'], timeout: 300_000, maxBuffer: 64 << 20 });
  if (typeof input === 'number') closeSync(input);
  const peaks = [...r.stderr.matchAll(/^rcae-test-peak-rss (\d+)$/gm)].map((m) => Number(m[1]));
  assert.ok(peaks.length >= 1, `no peak reported: ${r.stderr}`);
  return { ...r, stderr: r.stderr.replace(/^rcae-test-peak-rss \d+\n/gm, ''), peakBytes: peaks.reduce((a, b) => a + b, 0) };
}

test('a member over the per-image limit is refused from its header, before any of it is read', () => {
  const path = join(tmp, 'huge-member.tar');
  // The header claims one byte over the limit; the data is not there at all, so reading any of it would say "truncated".
  writeFileSync(path, tarClaiming('huge.png', IMAGE_LIMITS.maxFileBytes + 1));
  const r = rcae(['score', path]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^rcae score: ${path.replace(/\./g, '\\.')}: entry huge\\.png is ${IMAGE_LIMITS.maxFileBytes + 1} bytes \\(limit ${IMAGE_LIMITS.maxFileBytes}\\)$`, 'm'));
  assert.not.match(r.stderr, /truncated/);
});

test('an image whose file and decoded pixels together would pass the decode limit is refused before decoding, naming it', async () => {
  // 8192 x 8192 RGBA to be rotated (EXIF orientation 6): 512 MiB of pixels, behind 200 MiB of filler.
  const png = await sharp({ create: { width: 8192, height: 8192, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } }).withMetadata({ orientation: 6 }).png({ compressionLevel: 1 }).toBuffer();
  const crafted = pngWithFiller(png, 200 << 20);
  const err = await decodeRgb8(crafted, 'set.tar#crafted.png').catch((e: Error) => e);
  assert.instance(err, ImageError);
  assert.match((err as Error).message, new RegExp(`^set\\.tar#crafted\\.png: cannot decode image: decoding would hold 715 MiB \\(file and pixels\\), more than the ${IMAGE_LIMITS.maxDecodeBytes >> 20} MiB allowed$`));
});

async function collect(args: string[], budget?: DecodeBudget): Promise<SampleBatch[]> {
  const out: SampleBatch[] = [];
  for await (const b of sampleBatches(gatherSources(args), { channels: 3, size: 32 }, 4, 1, 0, budget)) out.push(b);
  return out;
}

test(`files and members decode within one byte budget, to the same tensors (seed ${SEED})`, async () => {
  const rand = random(SEED);
  const members = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
    const width = rand.int(8, 400);
    const height = rand.int(8, 400);
    const data = await sharp({ create: { width, height, channels: 3, background: { r: rand.int(0, 255), g: i * 20, b: 90 } } }).png().toBuffer();
    return { name: `m${String(i).padStart(2, '0')}.png`, data };
  }));
  const dir = join(tmp, 'files');
  mkdirSync(dir);
  for (const m of members) writeFileSync(join(dir, m.name), m.data);
  const archive = join(tmp, 'members.tar.gz');
  writeFileSync(archive, tarGzOf(members));
  const largest = Math.max(...await Promise.all(members.map(async (m) => {
    const { width = 0, height = 0 } = await sharp(m.data).metadata();
    return m.data.length + width * height * 3;
  })));
  const unbounded = await collect([dir, archive]);
  // Room for the largest decode and a bit: the others must wait their turn.
  const budget = new DecodeBudget(largest + 1000);
  const bounded = await collect([dir, archive], budget);
  assert.equal(bounded.map((b) => b.inputs), unbounded.map((b) => b.inputs));
  bounded.forEach((b, i) => assert.equal(b.data, unbounded[i].data, `batch ${i}`));
  assert.ok(budget.peak <= budget.limit, `decoding held ${budget.peak} bytes at once, over ${budget.limit}`);
  assert.ok(budget.peak >= largest, `the largest decode (${largest} bytes) was counted: peak ${budget.peak}`);
  assert.is(budget.inUse, 0);
});

test('rcae score on a 3 MB .tar.gz of eight PNGs that inflate to 201 MB each: every row, at most 1 GiB of RSS', () => {
  const side = 8192;
  const archive = join(tmp, 'bomb.tar.gz');
  writeFileSync(archive, repeatedMemberTarGz(storedPng(side, side), 8, (i) => `bomb-${i}.png`));
  const started = performance.now();
  const r = rcaeWithPeak(['score', '--format', 'jsonl', archive]);
  const seconds = (performance.now() - started) / 1000;
  console.log(`  8 x ${side}x${side} PNG members: ${seconds.toFixed(1)} s, peak RSS ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB (parent and child together)`);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { input: string; error: number });
  assert.equal(rows.map((row) => row.input), Array.from({ length: 8 }, (_, i) => `${archive}#bomb-${i}.png`));
  for (const row of rows) assert.ok(Number.isFinite(row.error), JSON.stringify(row));
  assert.ok(r.peakBytes <= GIB, `peak RSS ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB is over 1 GiB`);
});

test('rcae score on the largest .npy accepted (1 GiB of samples), as a file and on standard input: every 100th row, at most 1 GiB of RSS', () => {
  const per = 3 * 128 * 128;
  const count = Math.floor((MAX_NPY_BYTES - 128) / (per * 4));
  // A sparse file: the header numpy writes, then count zero samples that take no disk space.
  const path = join(tmp, 'large.npy');
  const header = npyOf(`{'descr': '<f4', 'fortran_order': False, 'shape': (${count}, 3, 128, 128), }`, new Uint8Array(0));
  writeFileSync(path, header);
  truncateSync(path, header.length + count * per * 4);
  for (const stdin of [false, true]) {
    const r = rcaeWithPeak(['score', '--every', '100', '--format', 'jsonl', stdin ? '-' : path], stdin ? path : undefined);
    console.log(`  ${count} samples (${((count * per * 4) / GIB).toFixed(3)} GiB) ${stdin ? 'on standard input' : 'as a file'}: peak RSS ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB`);
    assert.is(r.status, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { error: number });
    assert.is(rows.length, Math.ceil(count / 100));
    for (const row of rows) assert.ok(Number.isFinite(row.error));
    assert.ok(r.peakBytes <= GIB, `peak RSS ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB is over 1 GiB`);
  }
});

test.run();
