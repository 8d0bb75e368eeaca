// A real redis-server for the queue tests: started on a free loopback port in a temporary folder,
// optionally with the append-only file on, and stopped (or killed and restarted) by the test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { tempDir } from './paths.js';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** A client for inspecting keys from the test. */
  client(): Promise<Redis>;
  /** SIGKILL: the server dies without a chance to write anything more. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and folder (the AOF, when on, is replayed). */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing, as a hung Redis would. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  stop(): Promise<void>;
}

/** Why the queue tests cannot run here, or null when redis-server is on PATH (they skip, never pass, without it). */
export function redisServerMissing(): string | null {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return found.status === 0 ? null : 'redis-server not found (Debian: apt-get install redis-server; npm test installs it as root)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${log()}`);
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRedis(options: { appendOnly?: boolean } = {}): Promise<RedisServer> {
  const missing = redisServerMissing();
  if (missing) throw new Error(missing);
  const dir = tempDir('rcae-redis-');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'yes',
    ...(options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])];
  let child!: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await waitForPing(port, child, () => output.slice(-2000));
  };
  const exited = () => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  await launch();
  const clients: Redis[] = [];
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async client() {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
    async restart() {
      await launch();
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      clients.forEach((c) => c.disconnect());
      // A paused server would not act on SIGTERM until continued.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
