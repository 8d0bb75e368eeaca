// The local hostile corpus of issue 11: builds 300+ cases across the classes (build.ts) and runs
// each through the real CLI under /usr/bin/time, checking the targets per case: no crash
// (signal, V8 fatal error, exit status other than 0-3), no hang (10 s), at most 1 GB RSS, one stderr
// line naming the file on failure, no raw control character on stdout or stderr, no partial output,
// no code execution (a marker file a payload would create), no non-finite error labelled REAL.
// Usage: node dist/test/hostile/corpus-run.js [--json FILE] [--only SUBSTRING] [--rcae BIN]
// (--rcae runs another checkout's bin/rcae.js, to measure a version before these fixes.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { fixture, repoRoot, tempDir } from '../helpers/paths.js';
import {
  bytesOf, deflateBomb, float32Npy, manyScanJpeg, npyOf, overlappingZip, pngClaiming, safetensorsOf, sharedStorageCheckpoint, tarGzOf, tarOf, tiffOf, zeroStrideCheckpoint, zipOf,
} from './build.js';

const { values } = parseArgs({ options: { json: { type: 'string' }, only: { type: 'string', multiple: true }, rcae: { type: 'string' } } });
const RCAE = values.rcae ?? join(repoRoot, 'bin', 'rcae.js');
const LIMIT_MS = 10_000;
const LIMIT_RSS_KB = 1 << 20;
const MODEL = fixture('model', 'w8', 'model-published.ckpt');
const root = tempDir('rcae-corpus-');
const marker = join(root, 'PWNED');

interface Case {
  klass: string;
  name: string;
  /** Files to write in the case's folder (name -> bytes). */
  files?: Record<string, Uint8Array>;
  /** CLI arguments; {dir} is the case's folder. */
  args: string[];
  /** What the stderr line must name when the command fails ({dir} expanded). */
  names?: string;
  /** Outputs that must not exist after a failure. */
  outputs?: string[];
  /** Inputs whose rows must never be REAL (non-finite errors). */
  neverReal?: boolean;
  /** Files in the case's folder that the command must leave as they were (an output aimed at an input). */
  unchanged?: string[];
}

const cases: Case[] = [];
const add = (c: Case) => cases.push(c);
const cli = (cmd: string, file: string, extra: string[] = []) => (cmd === 'inspect' ? ['inspect', `{dir}/${file}`] : [cmd, '--model', MODEL, ...extra, `{dir}/${file}`]);

// Class 1: memory bounded by the file.
for (const gib of [0.25, 1, 2, 4, 6, 16]) add({ klass: '1 memory', name: `zero-stride ${gib} GiB`, files: { 'm.pt': zeroStrideCheckpoint(gib) }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
for (const n of [4, 16, 64, 256, 1024, 4096]) add({ klass: '1 memory', name: `shared storage x${n}`, files: { 'm.pt': sharedStorageCheckpoint(n, 4096) }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
for (const n of [1, 10, 100, 1000, 6000]) add({ klass: '1 memory', name: `overlapping zip x${n}`, files: { 'm.pt': overlappingZip(n) }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
for (const mib of [16, 64, 128, 512, 1000]) {
  const bomb = zipOf([{ name: 'archive/data.pkl', data: bytesOf(0x80, 2, '}', '.') }, { name: 'archive/data/0', data: new Uint8Array(0), stream: deflateBomb(mib << 20), claimedSize: Math.min(mib << 20, 2 ** 32 - 1) }]);
  add({ klass: '1 memory', name: `inflate bomb ${mib} MiB`, files: { 'm.pt': bomb }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
  const pkl = zipOf([{ name: 'archive/data.pkl', data: new Uint8Array(0), stream: deflateBomb(mib << 20), claimedSize: Math.min(mib << 20, 2 ** 32 - 1) }]);
  add({ klass: '1 memory', name: `inflate bomb data.pkl ${mib} MiB`, files: { 'm.pt': pkl }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
}
for (const [role, args] of [
  ['model', ['inspect', '/dev/zero']], ['model (score)', ['score', '--model', '/dev/zero', '{dir}/x.npy']], ['model urandom', ['inspect', '/dev/urandom']],
  ['thresholds', ['detect', '--model', MODEL, '--thresholds', '/dev/zero', '{dir}/x.npy']], ['npy', ['score', '--model', MODEL, '/dev/zero']],
  ['directory as model', ['inspect', '{dir}']],
] as const) add({ klass: '1 memory', name: `special file as ${role}`, args: [...args], names: args.find((a) => a.startsWith('/dev/')) ?? '{dir}' });
for (const ext of ['npy', 'png', 'tar', 'tar.gz', 'pt', 'json']) {
  const args = ext === 'pt' ? ['inspect', '{dir}/fifo.pt'] : ext === 'json' ? ['detect', '--model', MODEL, '--thresholds', '{dir}/fifo.json', '{dir}/x.npy'] : ['score', '--model', MODEL, `{dir}/fifo.${ext}`];
  add({ klass: '1 memory', name: `FIFO .${ext}`, args, names: `fifo.${ext}` });
}

// Class 2: time bounded by the pixels.
const images: [string, Uint8Array][] = [];
for (const h of [16_385, 100_000, 9_999_999]) images.push([`tall-${h}.tiff`, tiffOf(6, h)]);
for (const w of [16_385, 60_000]) images.push([`wide-${w}.png`, pngClaiming(w, 1)]);
for (const side of [9000, 16_000]) images.push([`big-${side}.png`, pngClaiming(side, side)]);
for (const pages of [257, 1000, 5000]) images.push([`pages-${pages}.tiff`, tiffOf(1, 1, pages)]);
for (const scans of [101, 1000, 30_000]) images.push([`scans-${scans}.jpg`, manyScanJpeg(scans)]);
// The same shape as the tall TIFF above, but whole: 2.8 MB of deflated rows that decode to 180 MB.
images.push(['tall-real.tiff', await sharp({ create: { width: 6, height: 9_999_999, channels: 3, background: '#0a141e' }, limitInputPixels: false }).tiff({ compression: 'deflate' }).toBuffer()]);
for (const [name, bytes] of images) {
  add({ klass: '2 decode', name, files: { [name]: bytes }, args: cli('score', name), names: name });
  add({ klass: '2 decode', name: `${name} in tar.gz`, files: { 'set.tar.gz': tarGzOf([{ name, data: bytes }]) }, args: cli('score', 'set.tar.gz'), names: `set.tar.gz#${name}` });
}

// Class 3: fail open.
for (const [what, fill] of [['NaN', NaN], ['Inf', Infinity], ['-Inf', -Infinity], ['huge', 3e38]] as const) {
  for (const n of [1, 3]) add({ klass: '3 fail-closed', name: `${what} x${n} detect`, files: { 'x.npy': float32Npy(n, 128, fill) }, args: ['detect', '--model', MODEL, '--level', '0.01', '--format', 'jsonl', '{dir}/x.npy'], neverReal: true });
}
const nanModel = safetensorsOf({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(new Float32Array([NaN]).buffer));
add({ klass: '3 fail-closed', name: 'NaN model', files: { 'm.safetensors': nanModel, 'x.npy': float32Npy(1, 128, 0) }, args: ['detect', '--model', '{dir}/m.safetensors', '--level', '0.01', '{dir}/x.npy'], names: 'm.safetensors', neverReal: true });

// Class 4: partial outputs.
const small = float32Npy(1, 128, 0.1);
add({ klass: '4 outputs', name: 'reconstruct grid into missing folder', files: { 'x.npy': small }, args: ['reconstruct', '--model', MODEL, '--out', '{dir}/R.npy', '--grid', '{dir}/missing/G.png', '{dir}/x.npy'], names: 'G.png', outputs: ['R.npy'] });
add({ klass: '4 outputs', name: 'reconstruct grid onto a folder', files: { 'x.npy': small }, args: ['reconstruct', '--model', MODEL, '--out', '{dir}/R.npy', '--grid', '{dir}', '{dir}/x.npy'], names: '', outputs: ['R.npy'] });
add({ klass: '4 outputs', name: 'calibrate plot into missing folder', files: { 'x.npy': small }, args: ['calibrate', '--model', MODEL, '--real', '{dir}/x.npy', '-o', '{dir}/T.json', '--plot', '{dir}/missing/P.png'], names: 'P.png', outputs: ['T.json'] });
add({ klass: '4 outputs', name: 'eval json beside missing plot folder', files: { 'x.npy': small }, args: ['eval', '--model', MODEL, '--real', '{dir}/x.npy', '--synthetic', 'noise:2', '--json', '{dir}/E.json', '--plot', '{dir}/missing/p'], names: 'p-roc.png', outputs: ['E.json'] });
for (const cmd of ['score', 'detect']) add({ klass: '4 outputs', name: `${cmd} --out onto its input`, files: { 'x.npy': small }, args: [cmd, '--model', MODEL, '--level', '1', '--out', '{dir}/x.npy', '{dir}/x.npy'].filter((a, i, all) => cmd === 'detect' || (a !== '--level' && all[i - 1] !== '--level')), names: 'x.npy', unchanged: ['x.npy'] });
// Copies of the model: a version that overwrites its input must not destroy the fixture.
add({ klass: '4 outputs', name: 'score --out onto the model', files: { 'x.npy': small, 'm.ckpt': readFileSync(MODEL) }, args: ['score', '--model', '{dir}/m.ckpt', '--out', '{dir}/m.ckpt', '{dir}/x.npy'], names: 'm.ckpt', unchanged: ['m.ckpt'] });
add({ klass: '4 outputs', name: 'convert onto its input', files: { 'm.safetensors': readFileSync(fixture('weights', 'reference.safetensors')) }, args: ['convert', '{dir}/m.safetensors', '-o', '{dir}/m.safetensors'], names: 'm.safetensors', unchanged: ['m.safetensors'] });
add({ klass: '4 outputs', name: 'reconstruct out and grid the same file', files: { 'x.npy': small }, args: ['reconstruct', '--model', MODEL, '--out', '{dir}/R.npy', '--grid', '{dir}/R.npy', '{dir}/x.npy'], names: 'R.npy', outputs: ['R.npy'] });

// Class 5: control characters from files.
const NASTY = ['\x1b[2J', '\x1b]0;owned\x07', 'a\nrcae inspect: forged', '\r\x1b[K', '\x9b31m', '\u202etxt.exe', 'tab\there', '"quoted,comma"'];
for (const [i, nasty] of NASTY.entries()) {
  add({ klass: '5 escaping', name: `tensor name ${i}`, files: { 'm.safetensors': safetensorsOf({ [nasty]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)) }, args: ['inspect', '{dir}/m.safetensors'], names: 'm.safetensors' });
  add({ klass: '5 escaping', name: `metadata ${i}`, files: { 'm.safetensors': safetensorsOf({ __metadata__: { [nasty]: nasty }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)) }, args: ['inspect', '{dir}/m.safetensors'], names: 'm.safetensors' });
  add({ klass: '5 escaping', name: `zip member ${i}`, files: { 'm.pt': zipOf([{ name: `archive/${nasty}`, data: new Uint8Array(3) }]) }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
  for (const format of ['csv', 'table', 'jsonl']) {
    add({ klass: '5 escaping', name: `tar member ${i} ${format}`, files: { 'set.tar': tarOf([{ name: `${nasty}.png`, data: new Uint8Array(8) }]) }, args: ['score', '--model', MODEL, '--format', format, '{dir}/set.tar'], names: 'set.tar' });
  }
}

// Class 6 and 7: errors and format completeness through the CLI.
const pk = (...parts: (number | string)[]) => zipOf([{ name: 'archive/data.pkl', data: bytesOf(...parts) }]);
const payloads: [string, Uint8Array][] = [
  ['posix.system', pk(0x80, 2, 'cposix\nsystem\n', 0x8c, 16 + marker.length, `touch ${marker}; true`, 0x85, 'R', '.')],
  ['os.system protocol 0', pk(`cos\nsystem\n(S'touch ${marker}'\ntR.`)],
  ['builtins.eval', pk(0x80, 2, 'cbuiltins\neval\n', 0x8c, 40 + marker.length, `__import__('os').system('touch ${marker}')`, 0x85, 'R', '.')],
  ['subprocess INST', pk(`(S'touch'\nS'${marker}'\nisubprocess\ncall\n.`)],
  ['INT protocol 0', pk('(dp0\nVw\np1\nI12\ns.')],
  ['LONG protocol 0', pk('(dp0\nVw\nL99999999999999999999L\ns.')],
  ['deep nesting', pk(0x80, 2, ...Array.from({ length: 5000 }, () => ']'), '.')],
  ['deep MARKs', pk(0x80, 2, ...Array.from({ length: 5000 }, () => '('), '.')],
  ['huge BINUNICODE length', pk(0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, '.')],
];
for (const [name, bytes] of payloads) add({ klass: '7 pickle', name, files: { 'm.pt': bytes }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
for (const [name, bytes] of [
  ['npy fortran', npyOf("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3, 128, 128), }", new Uint8Array(3 * 128 * 128 * 4))],
  ['npy shape overflow', npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999, 999999999999), }", new Uint8Array(16))],
  ['npy object', npyOf("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8))],
  ['npy header eval', npyOf("{'descr': __import__('os').system('touch x'), }", new Uint8Array(0))],
] as const) add({ klass: '6 errors', name, files: { 'x.npy': bytes }, args: cli('score', 'x.npy'), names: 'x.npy' });
for (const [name, text] of [['thresholds not JSON', '{"a": \x1b[2J'], ['thresholds deep', '['.repeat(100_000)], ['thresholds wrong', '{"reconstruction_thresholds": 5}']]) {
  add({ klass: '6 errors', name, files: { 't.json': Buffer.from(text), 'x.npy': small }, args: ['detect', '--model', MODEL, '--thresholds', '{dir}/t.json', '{dir}/x.npy'], names: 't.json' });
}
add({ klass: '6 errors', name: 'image is a directory', files: {}, args: ['score', '--model', MODEL, '{dir}/d.png'], names: 'd.png' });

// Random mutations of the valid fixtures fill the corpus, as a stranger's broken files would.
function* mutations(base: Uint8Array, count: number, seed: number): Generator<Uint8Array> {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 2 ** 32);
  for (let i = 0; i < count; i++) {
    const b = Buffer.from(base);
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    yield rand() < 0.2 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
  }
}
let m = 0;
for (const bytes of mutations(new Uint8Array(readFileSync(fixture('weights', 'views.pt'))), 70, 11)) add({ klass: '8 mutations', name: `views.pt #${m++}`, files: { 'm.pt': bytes }, args: ['inspect', '{dir}/m.pt'], names: 'm.pt' });
for (const bytes of mutations(new Uint8Array(readFileSync(fixture('weights', 'reference.safetensors'))), 50, 12)) add({ klass: '8 mutations', name: `reference.safetensors #${m++}`, files: { 'm.safetensors': bytes }, args: ['inspect', '{dir}/m.safetensors'], names: 'm.safetensors' });
for (const bytes of mutations(new Uint8Array(readFileSync(fixture('images', 'archives', 'gnu.tar.gz'))), 40, 13)) add({ klass: '8 mutations', name: `gnu.tar.gz #${m++}`, files: { 'a.tar.gz': bytes }, args: cli('score', 'a.tar.gz'), names: 'a.tar.gz' });


// ---- run ----

interface Outcome {
  klass: string;
  name: string;
  status: number | null;
  ms: number;
  rssKb: number;
  problems: string[];
}

const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const DAWN_NOTICE = /^Warning: maxDynamic\w+ artificially reduced/;

async function prepare(c: Case, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), bytes);
  if (c.name === 'image is a directory') mkdirSync(join(dir, 'd.png'));
  for (const a of c.args) {
    const fifo = /\{dir\}\/(fifo\.[\w.]+)$/.exec(a);
    if (fifo) spawnSync('mkfifo', [join(dir, fifo[1])]);
  }
  if (!existsSync(join(dir, 'x.npy'))) writeFileSync(join(dir, 'x.npy'), float32Npy(1, 128, 0));
  return c.args.map((a) => a.replaceAll('{dir}', dir));
}

function run(c: Case, args: string[], dir: string): Outcome {
  const started = performance.now();
  // timeout(1) kills the CLI itself at the limit (killing /usr/bin/time would orphan it); time(1)
  // reports the largest RSS among the processes it waited for, the CLI included.
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'timeout', '-s', 'KILL', String(LIMIT_MS / 1000 + 5), process.execPath, RCAE, ...args], {
    encoding: 'latin1', timeout: LIMIT_MS + 10_000, maxBuffer: 64 << 20, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  const ms = performance.now() - started;
  const lines = r.stderr.split('\n');
  const rssLine = lines.filter((l) => /^\d+$/.test(l)).pop();
  const rssKb = Number(rssLine ?? 0);
  const own = lines.filter((l) => l && l !== rssLine && !DAWN_NOTICE.test(l) && !/^Command exited with non-zero status/.test(l) && !/^Command terminated by signal/.test(l));
  const problems: string[] = [];
  if (r.error) problems.push(`hang or spawn error: ${r.error.message}`);
  if (r.status === 137) problems.push('hang (killed at the limit)');
  else if (/Command terminated by signal|FATAL ERROR|Segmentation|bad_alloc|Aborted/.test(r.stderr)) problems.push('crash');
  if (r.status !== null && r.status > 3) problems.push(`exit status ${r.status}`);
  if (ms > LIMIT_MS) problems.push(`took ${Math.round(ms)} ms`);
  if (rssKb > LIMIT_RSS_KB) problems.push(`RSS ${rssKb} KB`);
  if (RAW_CONTROL.test(r.stdout) || own.some((l) => RAW_CONTROL.test(l))) problems.push('raw control character in output');
  if (r.status !== 0 && r.status !== 3) {
    if (own.length !== 1) problems.push(`${own.length} stderr lines: ${JSON.stringify(own.slice(0, 3))}`);
    const named = (c.names ?? '').replaceAll('{dir}', dir);
    if (own.length && named && !own[0].includes(named) && !own[0].includes(JSON.stringify(named).slice(1, -1))) problems.push(`error does not name ${named}: ${own[0]}`);
    for (const out of c.outputs ?? []) if (existsSync(join(dir, out))) problems.push(`partial output ${out}`);
    const temps = readdirSync(dir).filter((f) => f.includes('.tmp-'));
    if (temps.length) problems.push(`temporary files left: ${temps.join(' ')}`);
  }
  if (c.neverReal && /"label":"REAL"|,REAL\b|\bREAL\s*$/m.test(r.stdout)) problems.push('non-finite error labelled REAL');
  for (const f of c.unchanged ?? []) if (!readFileSync(join(dir, f)).equals(Buffer.from(c.files![f]))) problems.push(`input ${f} overwritten`);
  if (existsSync(marker)) problems.push('CODE EXECUTED');
  return { klass: c.klass, name: c.name, status: r.status, ms, rssKb, problems };
}

const selected = cases.filter((c) => !values.only || values.only.some((o) => `${c.klass} ${c.name}`.includes(o)));
console.log(`hostile corpus: ${selected.length} cases in ${root}`);
const outcomes: Outcome[] = [];
for (const [i, c] of selected.entries()) {
  const dir = join(root, `case-${i}`);
  const args = await prepare(c, dir);
  const o = run(c, args, dir);
  outcomes.push(o);
  if (o.problems.length) console.log(`FAIL ${c.klass} / ${c.name}: ${o.problems.join('; ')}`);
}

const byClass = new Map<string, Outcome[]>();
for (const o of outcomes) byClass.set(o.klass, [...(byClass.get(o.klass) ?? []), o]);
console.log('class              cases  failed  max s  max RSS MB');
for (const [k, os] of byClass) {
  console.log(`${k.padEnd(18)} ${String(os.length).padStart(5)}  ${String(os.filter((o) => o.problems.length).length).padStart(6)}  ${(Math.max(...os.map((o) => o.ms)) / 1000).toFixed(1).padStart(5)}  ${(Math.max(...os.map((o) => o.rssKb)) / 1024).toFixed(0).padStart(10)}`);
}
const failed = outcomes.filter((o) => o.problems.length);
const summary = {
  cases: outcomes.length, failed: failed.length,
  maxSeconds: Math.max(...outcomes.map((o) => o.ms)) / 1000, maxRssMb: Math.max(...outcomes.map((o) => o.rssKb)) / 1024,
  crashes: outcomes.filter((o) => o.problems.includes('crash')).length,
  hangs: outcomes.filter((o) => o.problems.some((p) => /hang|took/.test(p))).length,
  over1GB: outcomes.filter((o) => o.rssKb > LIMIT_RSS_KB).length,
  partialOutputs: outcomes.filter((o) => o.problems.some((p) => /partial|temporary|overwritten/.test(p))).length,
  codeExecutions: outcomes.filter((o) => o.problems.includes('CODE EXECUTED')).length,
  rawControl: outcomes.filter((o) => o.problems.some((p) => /raw control/.test(p))).length,
  nonFiniteReal: outcomes.filter((o) => o.problems.some((p) => /labelled REAL/.test(p))).length,
};
console.log(JSON.stringify(summary));
if (values.json) {
  const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim() || undefined;
  writeFileSync(values.json, JSON.stringify({ commit, machine: '2-core AMD EPYC, lavapipe, shared with parallel work', rcae: RCAE, summary, outcomes }, null, 1) + '\n');
}
process.exit(failed.length ? 1 : 0);
