import { resolve } from 'node:path';
import { resolveWeights } from '../../model.js';
import { sha256File } from '../../node/sha256.js';
import { connectClient, DEFAULT_REDIS_URL } from '../../queue/connection.js';
import { findDamage, removeDamage, type Damage } from '../../queue/diagnose.js';
import { cancelJob, checkFinished, cleanJob, collectRows, JobPendingError, jobStatus, type JobStatus } from '../../queue/jobs.js';
import { checkJobName, LIMITS } from '../../queue/stored.js';
import { submitJob } from '../../queue/submit.js';
import { formatOption, intOption, parse, UsageError, type Command } from '../args.js';
import { rowWriter } from '../format.js';
import { modelPath } from '../model-path.js';
import { withTextOutput } from '../sink.js';
import { chooseThreshold } from './detect.js';
import { printable } from '../../printable.js';

/** The columns of rcae detect, and the reason of a row that could not be scored. */
const COLUMNS = ['input', 'index', 'error', 'threshold', 'label', 'reason'] as const;

const redisOption = { redis: { type: 'string' } } as const;
const redisUrl = (option: string | undefined) => option ?? process.env.RCAE_REDIS ?? DEFAULT_REDIS_URL;

async function withRedis<T>(url: string | undefined, use: (redis: Awaited<ReturnType<typeof connectClient>>) => Promise<T>): Promise<T> {
  const redis = await connectClient(redisUrl(url));
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

function oneJob(positionals: string[], sub: string): string {
  if (positionals.length !== 1) throw new UsageError(`rcae queue ${sub} takes one JOB name (see rcae queue --help)`);
  return positionals[0];
}

const seconds = (s: number) => (s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

function printStatus(s: JobStatus): void {
  const { shards, inputs } = s;
  const lines = [
    `job ${s.name}: ${s.state}`,
    `shards: ${shards.done} done, ${shards.active} active, ${shards.failed} failed, ${shards.waiting} waiting (of ${shards.total})`,
    `inputs: ${inputs.done} of ${inputs.total} done${inputs.failed ? `, ${inputs.failed} could not be scored` : ''}`
      + (s.inputsPerSecond ? `, ${s.inputsPerSecond.toFixed(1)} inputs/s` : '')
      + (s.etaSeconds !== undefined ? `, about ${seconds(s.etaSeconds)} left` : ''),
    `model ${s.model}, level ${s.level} (threshold ${s.threshold})`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function submit(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    ...redisOption, name: { type: 'string' }, 'shard-size': { type: 'string' }, model: { type: 'string' }, thresholds: { type: 'string' },
    level: { type: 'string' }, batch: { type: 'string' }, attempts: { type: 'string' }, 'backoff-ms': { type: 'string' },
  }, 'queue');
  if (positionals.length === 0) throw new UsageError('rcae queue submit needs INPUT... (image files, directories, .npy or .tar/.tar.gz)');
  const shardSize = intOption(values['shard-size'], 'shard-size', 256, 1, LIMITS.shardSize);
  const batch = intOption(values.batch, 'batch', 32, 1, LIMITS.batch);
  const attempts = intOption(values.attempts, 'attempts', 3, 1, LIMITS.attempts);
  const backoffMs = intOption(values['backoff-ms'], 'backoff-ms', 1000, 1, LIMITS.backoffMs);
  const threshold = chooseThreshold(values.level, values.thresholds, values.model);
  const model = resolve(modelPath(values.model));
  const { arch } = await resolveWeights(model);
  const modelSha256 = await sha256File(model);
  const outcome = await withRedis(values.redis, (redis) => submitJob(redis, {
    name: values.name, inputs: positionals, cwd: process.cwd(), model, modelSha256, shape: { channels: arch.inChannels, size: arch.imageSize },
    level: threshold.level, threshold: threshold.value, shardSize, batch, attempts, backoffMs,
  }));
  const { spec } = outcome;
  process.stderr.write(outcome.created
    ? `submitted ${spec.inputCount} inputs in ${spec.shardCount} shard${spec.shardCount === 1 ? '' : 's'} of up to ${spec.shardSize}\n`
    : `already submitted (same inputs, model and threshold): ${outcome.enqueued} of ${spec.shardCount} shards without a result offered to the queue again\n`);
  process.stdout.write(spec.name + '\n');
}

async function status(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { ...redisOption, json: { type: 'boolean' } }, 'queue');
  const s = await withRedis(values.redis, (redis) => jobStatus(redis, oneJob(positionals, 'status')));
  if (values.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
  else printStatus(s);
}

async function collect(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { ...redisOption, out: { type: 'string', short: 'o' }, format: { type: 'string' }, wait: { type: 'boolean' } }, 'queue');
  const name = oneJob(positionals, 'collect');
  const format = formatOption(values.format, values.out?.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl');
  if (format === 'table') throw new UsageError('rcae queue collect writes jsonl or csv');
  await withRedis(values.redis, async (redis) => {
    let spec;
    for (;;) {
      try {
        spec = await checkFinished(redis, name);
        break;
      } catch (err) {
        if (!values.wait || !(err instanceof JobPendingError)) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const failed: string[] = [];
    let failedCount = 0;
    let flagged = 0;
    const damaged = new Set<string>();
    await withTextOutput(values.out, async (out, drained) => {
      const rows = rowWriter(format, COLUMNS, out);
      let written = 0;
      for await (const row of collectRows(redis, spec, (message) => damaged.add(message))) {
        if (row.label === 'FAILED' || row.label === 'INVALID') {
          if (failedCount++ < 10) failed.push(printable(`${row.input || `input ${row.index}`}: ${row.reason}`));
        }
        if (row.label === 'FAKE') flagged++;
        rows.write({ ...row });
        if (++written % 1000 === 0) await drained();
      }
      rows.end();
    });
    const shown = failed.map((f) => `  ${f}\n`).join('');
    process.stderr.write(`${flagged} of ${spec.inputCount} flagged FAKE` + (failedCount ? `; ${failedCount} could not be scored (label FAILED or INVALID, with a reason):\n${shown}${failedCount > 10 ? `  ... and ${failedCount - 10} more\n` : ''}` : '\n'));
    for (const message of damaged) process.stderr.write(`damaged: ${printable(message)}\n`);
  });
}

async function doctor(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...redisOption, json: { type: 'boolean' } }, 'queue');
  if (positionals.length > 0) throw new UsageError('rcae queue doctor takes no JOB: it looks at every job and queue entry');
  const found: Damage[] = [];
  await withRedis(values.redis, (redis) => findDamage(redis, (d) => {
    found.push(d);
    if (!values.json) process.stdout.write(printable(d.problem) + '\n');
  }));
  if (values.json) process.stdout.write(JSON.stringify(found, null, 2) + '\n');
  process.stderr.write(found.length === 0 ? 'no damaged jobs or queue entries\n' : `${found.length} damaged (rcae queue clean --broken removes them; collect a damaged job's good rows first)\n`);
  return found.length === 0 ? 0 : 1;
}

async function cancel(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, redisOption, 'queue');
  const name = oneJob(positionals, 'cancel');
  const { removed } = await withRedis(values.redis, (redis) => cancelJob(redis, name));
  process.stderr.write(`cancelled ${name}: ${removed} queued shards removed; shards in progress finish and are ignored\n`);
}

async function clean(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...redisOption, force: { type: 'boolean' }, broken: { type: 'boolean' } }, 'queue');
  if (values.broken) {
    if (positionals.length > 0) throw new UsageError('rcae queue clean --broken takes no JOB: it removes what rcae queue doctor lists');
    const left = await withRedis(values.redis, async (redis) => {
      const found: Damage[] = [];
      await findDamage(redis, (d) => found.push(d));
      const jobs = new Set(found.flatMap((d) => (d.job === undefined ? [] : [d.job])));
      const entries = found.length - found.filter((d) => d.job !== undefined).length;
      const stuck = await removeDamage(redis, found);
      process.stderr.write(`removed ${jobs.size} damaged job${jobs.size === 1 ? '' : 's'} and ${entries - stuck.length} damaged queue entr${entries - stuck.length === 1 ? 'y' : 'ies'}\n`);
      return stuck;
    });
    left.forEach((line) => process.stderr.write(`${printable(line)}\n`));
    return left.length === 0 ? 0 : 1;
  }
  const name = checkJobName(oneJob(positionals, 'clean'));
  await withRedis(values.redis, (redis) => cleanJob(redis, name, values.force ?? false));
  process.stderr.write(`removed job ${name} and its results from Redis\n`);
  return 0;
}

const subcommands: Record<string, (argv: string[]) => Promise<number | void>> = { submit, status, collect, cancel, clean, doctor };

export const queue: Command = {
  name: 'queue',
  summary: 'submit a dataset as shards to a Redis queue for rcae workers; status, collect, cancel, clean, doctor',
  help: `Usage: rcae queue submit [--redis URL] [--name JOB] [--shard-size N] [--model M] [--level L] INPUT...
       rcae queue status [--redis URL] [--json] JOB
       rcae queue collect [--redis URL] [--out results.jsonl|csv] [--wait] JOB
       rcae queue cancel [--redis URL] JOB
       rcae queue clean [--redis URL] [--force] JOB | --broken
       rcae queue doctor [--redis URL] [--json]

Scores a dataset across many GPUs and machines: submit cuts the inputs into shards and queues
them (BullMQ on Redis); \`rcae worker\` processes, one per GPU, on any machine that reaches Redis;
collect writes the rows of \`rcae detect\`, one per input in input order.

INPUT: as for rcae detect (image files, directories, .tar/.tar.gz, .npy), enumerated once at submit.
Workers read them by the same path: inputs and the model must be on a filesystem every worker
mounts at the same place (relative paths resolve against the directory submit ran in). The model
is checked by SHA-256 on each worker.

submit (prints the job name on stdout):
  --name JOB        job name (default: rcae-<hash of the content>); the same content submitted again
                    is recognised and not queued twice; other content under a used name is refused
  --shard-size N    inputs per shard (default 256, at most ${LIMITS.shardSize})
  --model M, --thresholds T, --level L   as for rcae detect; the threshold is fixed at submit
  --batch N         samples per GPU batch on the workers (default 32, at most ${LIMITS.batch})
  --attempts N      tries per shard before it is marked failed (default 3, at most ${LIMITS.attempts})
  --backoff-ms MS   delay before the first retry, doubling each time (default 1000, at most ${LIMITS.backoffMs})
  A job holds at most ${LIMITS.inputs} inputs in ${LIMITS.shards} shards, each path or member name at
  most ${LIMITS.pathLength} characters; more is refused at submit (and by every reader of Redis).
status:   shards done/active/failed/waiting, inputs/s, time left; --json for a machine-readable form
collect:  -o/--out F (written atomically; csv when F ends in .csv, else jsonl), --format jsonl|csv,
          --wait (until the job is finished). Columns as rcae detect (input, index, error,
          threshold, label) and reason: an input that could not be scored has label FAILED and
          its reason (a shard with neither a result nor a queue entry counts as failed). Every
          row is written, one per input, to a file or a pipe. A shard whose
          stored data is damaged gives FAILED rows naming the job and shard (input empty when
          the shard's own list is damaged), listed on stderr; the other shards are unaffected.
cancel:   takes the job's queued shards off the queue; shards in progress finish and are ignored
clean:    removes the job's keys and results from Redis (refused while shards are pending, unless
          the job was cancelled or --force); a job whose spec is damaged is removed whatever
          its state. --broken removes everything doctor lists: damaged jobs whole (collect
          their good rows first) and damaged queue entries
doctor:   lists every damaged job, shard, result and queue entry in this Redis, one per line,
          naming the job and shard or the entry (--json: as a JSON list); exit status 1 when
          any is found. Stored data is damaged when it does not parse or is out of the bounds
          above; status, collect and workers skip it and go on with the rest.

--redis URL   redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// (default: RCAE_REDIS, else ${DEFAULT_REDIS_URL})`,
  async run(argv) {
    const [sub, ...rest] = argv;
    const run = sub === undefined ? undefined : subcommands[sub];
    if (!run) throw new UsageError(`rcae queue needs one of ${Object.keys(subcommands).join(', ')}${sub ? `, got '${sub}'` : ''} (see rcae queue --help)`);
    return (await run(rest)) ?? 0;
  },
};
