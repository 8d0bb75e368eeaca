// Runs the real CLI (bin/rcae.js) in a child process, as a user would.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function rcae(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'rcae.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...env },
    timeout: 300_000,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
