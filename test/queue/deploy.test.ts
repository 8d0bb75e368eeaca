// deploy/: the compose file and the Kubernetes example are parsed and checked (not run): Redis keeps
// an append-only file, each worker gets one GPU of its own, and every worker command is one that
// `rcae worker` accepts, pointing at the Redis service by name; the worker takes the GPU flags.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parse } from '../../src/cli/args.js';
import { WORKER_OPTIONS } from '../../src/cli/commands/worker.js';
import { modelOptions } from '../../src/cli/model-path.js';
import { repoRoot } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

type Yaml = any;

/** A short-syntax volume (`SOURCE:TARGET[:MODE]`, SOURCE possibly `${VAR:-default}`) mounted at /data. */
const mountsData = (v: string) => /:\/data(:r[ow])?$/.test(v);

/** The worker's argv (after the image's `rcae` entrypoint), checked with rcae's own parser; returns the Redis URL. */
function workerRedis(argv: string[], where: string): URL {
  assert.is(argv[0], 'worker', `${where}: runs rcae worker`);
  const { values, positionals } = parse(argv.slice(1), WORKER_OPTIONS, 'worker');
  assert.equal(positionals, [], `${where}: no stray arguments`);
  assert.ok(values.redis, `${where}: --redis given`);
  return new URL(values.redis!);
}

/** The longest a stop of this worker takes, in seconds (--shutdown-ms, default 10 s). */
function shutdownSeconds(argv: string[]): number {
  const { values } = parse(argv.slice(1), WORKER_OPTIONS, 'worker');
  return Number(values['shutdown-ms'] ?? 10_000) / 1000;
}

test('compose: Redis with an append-only file, one GPU per worker, workers pointed at the redis service', () => {
  const doc: Yaml = parseYaml(readFileSync(join(repoRoot, 'deploy', 'compose.yaml'), 'utf8'), { merge: true });
  const services = doc.services;
  assert.ok(services.redis.command.includes('--appendonly') && services.redis.command[services.redis.command.indexOf('--appendonly') + 1] === 'yes');
  assert.ok(services.redis.volumes.some(mountsData), 'the AOF is on a volume');
  const workers = Object.keys(services).filter((n) => n.startsWith('worker-'));
  assert.ok(workers.length >= 2, 'Redis + N workers');
  const gpus = new Set<string>();
  for (const name of workers) {
    const w = services[name];
    const url = workerRedis(w.command, name);
    assert.is(url.hostname, 'redis', `${name}: reaches Redis by its service name`);
    assert.is(url.port, '6379');
    assert.ok(w.depends_on.includes('redis'));
    const devices = w.deploy.resources.reservations.devices;
    assert.is(devices.length, 1, `${name}: one device reservation`);
    assert.is(devices[0].device_ids.length, 1, `${name}: exactly one GPU`);
    assert.ok(devices[0].capabilities.includes('gpu'));
    gpus.add(devices[0].device_ids[0]);
    assert.ok(w.volumes.some(mountsData), `${name}: inputs at /data`);
    assert.match(w.environment.NVIDIA_DRIVER_CAPABILITIES, /graphics/, `${name}: Vulkan needs the graphics capability`);
    assert.ok(parseInt(w.stop_grace_period, 10) >= shutdownSeconds(w.command) + 2, `${name}: exits (within --shutdown-ms + 2 s) before Docker's SIGKILL`);
  }
  assert.is(gpus.size, workers.length, 'no two workers share a GPU');
  // The submitting container sees the inputs at the same path as the workers.
  assert.ok(services.cli.volumes.some(mountsData));
  assert.is(new URL(services.cli.environment.RCAE_REDIS).hostname, 'redis');
  assert.equal(services.cli.profiles, ['cli'], 'the cli service is not started by up');
});

test('kubernetes: Redis Deployment + Service with an append-only file; worker Deployment with one GPU per pod', () => {
  const docs: Yaml[] = parseAllDocuments(readFileSync(join(repoRoot, 'deploy', 'kubernetes.yaml'), 'utf8')).map((d) => d.toJS()).filter(Boolean);
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const service = find('Service', 'rcae-redis');
  const redis = find('Deployment', 'rcae-redis');
  const workers = find('Deployment', 'rcae-worker');
  assert.ok(service && redis && workers, 'Service rcae-redis, Deployments rcae-redis and rcae-worker');
  assert.equal(service.spec.selector, redis.spec.template.metadata.labels, 'the Service selects the Redis pod');
  const redisArgs: string[] = redis.spec.template.spec.containers[0].args;
  assert.is(redisArgs[redisArgs.indexOf('--appendonly') + 1], 'yes');
  assert.equal(workers.spec.selector.matchLabels, workers.spec.template.metadata.labels);
  const [container] = workers.spec.template.spec.containers;
  const url = workerRedis(container.args, 'rcae-worker');
  assert.is(url.hostname, service.metadata.name, 'workers reach Redis through the Service');
  assert.is(Number(url.port), service.spec.ports[0].port);
  assert.is(container.resources.limits['nvidia.com/gpu'], 1, 'one GPU per worker pod');
  assert.ok(container.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/data'));
  assert.ok(workers.spec.template.spec.terminationGracePeriodSeconds >= shutdownSeconds(container.args) + 2, 'the worker exits (within --shutdown-ms + 2 s) before SIGKILL');
});

test('rcae worker opens models with the GPU flags of every model command, checked before it reaches Redis', () => {
  const { values } = parse(['--precision', 'f16', '--variant', 'fma', '--adapter', '0'], WORKER_OPTIONS, 'worker');
  const options = modelOptions(values);
  assert.equal([options.precision, options.variant, options.adapter], ['f16', 'fma', '0']);
  // Nothing listens at this port: a bad flag must be the error, not the connection.
  for (const [flag, message] of [['--precision=f17', /--precision must be f32 or f16/], ['--variant=wide', /variant/]] as const) {
    const r = rcae(['worker', '--redis', 'redis://127.0.0.1:1', flag]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test.run();
