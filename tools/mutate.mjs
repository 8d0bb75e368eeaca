// `npm run mutate`: plants each bug of tools/mutants.mjs in turn into the built dist/ (the source
// file is never touched), runs the tests that must catch it, restores the file, and prints caught /
// NOT caught per bug. A test set is first run unmutated: a suite that already fails would make
// every bug look caught, so that aborts the run. Exit status 1 when any bug was not caught.
// Usage: node tools/mutate.mjs [--json FILE] [--only SUBSTRING] [--timeout SECONDS]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MUTANTS } from './mutants.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The built files a source line lives in, each with the text to look for there. */
export function targetsOf(mutant) {
  if (mutant.file.endsWith('.wgsl')) {
    // The kernels read their WGSL from the generated bundle, where it is a JSON string literal.
    const escape = (s) => JSON.stringify(s).slice(1, -1);
    return [{ path: join(root, 'dist/src/gpu/wgsl-bundle.js'), from: escape(mutant.from), to: escape(mutant.to) }];
  }
  return [{ path: join(root, 'dist', mutant.file.replace(/\.ts$/, '.js')), from: mutant.from, to: mutant.to }];
}

/** Why `mutant` cannot be planted as written (its line moved or is ambiguous), or null. */
export function mutantProblem(mutant) {
  const occurrences = (text, s) => text.split(s).length - 1;
  const source = readFileSync(join(root, mutant.file), 'utf8');
  if (occurrences(source, mutant.from) !== 1) return `${mutant.file}: '${mutant.from}' occurs ${occurrences(source, mutant.from)} times, not once`;
  for (const t of targetsOf(mutant)) {
    if (!existsSync(t.path)) return `${t.path} is not built (npm run build)`;
    const n = occurrences(readFileSync(t.path, 'utf8'), t.from);
    if (n !== 1) return `${t.path}: the built text of '${mutant.from}' occurs ${n} times, not once`;
  }
  return null;
}

function runTests(tests, env, timeoutS) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'dist/test/run.js'), ...tests], {
    cwd: root,
    env: { ...process.env, ...env, CI: '' },
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  // uvu prints `FAIL  "test name"` and then the assertion's message: that pair says what caught it.
  const lines = output.split('\n').map((l) => l.trim());
  const at = lines.findIndex((l) => l.startsWith('FAIL'));
  const failure = at < 0 ? '' : `${lines[at]}: ${lines.slice(at + 1).find((l) => l !== '') ?? ''}`.slice(0, 240);
  return { status: r.status, timedOut: r.error?.code === 'ETIMEDOUT', seconds: (Date.now() - started) / 1000, failure, tail: output.slice(-2000) };
}

async function main() {
  const { values } = parseArgs({ options: { json: { type: 'string' }, only: { type: 'string' }, timeout: { type: 'string', default: '900' } } });
  const timeoutS = Number(values.timeout);
  const build = spawnSync(process.execPath, [join(root, 'tools/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(1);
  const mutants = MUTANTS.filter((m) => !values.only || m.id.includes(values.only));
  for (const m of mutants) {
    const problem = mutantProblem(m);
    if (problem) {
      console.error(`mutate: ${m.id}: ${problem}`);
      process.exit(2);
    }
  }

  // Restore whatever is planted if the run is interrupted.
  let planted = null;
  const restore = () => {
    if (planted) for (const [path, text] of planted) writeFileSync(path, text);
    planted = null;
  };
  process.on('SIGINT', () => {
    restore();
    process.exit(130);
  });

  const baselines = new Map();
  const results = [];
  for (const m of mutants) {
    const key = JSON.stringify([m.tests, m.env ?? {}]);
    if (!baselines.has(key)) {
      console.log(`baseline: ${m.tests.join(' ')} ${JSON.stringify(m.env ?? {})}`);
      const base = runTests(m.tests, m.env ?? {}, timeoutS);
      if (base.status !== 0) {
        console.error(`mutate: the unmutated tests ${m.tests.join(' ')} fail; fix them first\n${base.tail}`);
        process.exit(2);
      }
      console.log(`baseline passed in ${base.seconds.toFixed(0)} s`);
      baselines.set(key, base.seconds);
    }
    planted = new Map();
    for (const t of targetsOf(m)) {
      const text = readFileSync(t.path, 'utf8');
      planted.set(t.path, text);
      writeFileSync(t.path, text.replace(t.from, t.to));
    }
    let r;
    try {
      r = runTests(m.tests, m.env ?? {}, timeoutS);
    } finally {
      restore();
    }
    const caught = r.status !== 0;
    const how = r.timedOut ? `timed out after ${timeoutS} s` : caught ? r.failure : 'every test passed';
    console.log(`${caught ? 'caught    ' : 'NOT CAUGHT'}  ${m.id}  (${m.tests.join(' ')}, ${r.seconds.toFixed(0)} s)${how ? `: ${how}` : ''}`);
    results.push({ id: m.id, file: m.file, tests: m.tests, env: m.env ?? {}, caught, timed_out: r.timedOut, seconds: r.seconds, failure: caught ? r.failure : null });
  }
  const missed = results.filter((r) => !r.caught);
  console.log(`${results.length - missed.length} of ${results.length} planted bugs caught`);
  if (values.json) {
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() || null;
    writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), commit, caught: results.length - missed.length, planted: results.length, results }, null, 2)}\n`);
  }
  process.exit(missed.length > 0 ? 1 : 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
