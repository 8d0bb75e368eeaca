// What bin/rcae.js runs. The command itself runs in a child process whose stderr is passed through
// dawnNoticeFilter, so that Dawn's native notices (written to fd 2, out of JavaScript's reach) do
// not bury the lines the user needs; `--verbose` (or RCAE_VERBOSE=1) runs it in this process with
// everything shown. This module loads nothing heavy: the parent never touches Dawn.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { bindingFailure } from './binding-failure.js';
import { dawnNoticeFilter } from './dawn-notices.js';
import { TERMINAL_COLUMNS_ENV } from '../node/terminal.js';

/** Set in the child's environment: run the command here, the parent is filtering. */
const CHILD_ENV = 'RCAE_FILTERED_CHILD';

// `rcae worker` is a service: its stderr is a log, and process supervisors and the queue's own
// bookkeeping (worker ids are host:pid) need the process they signal to be the one doing the work.
// Help and the version never open an adapter, so they spare the second process.
const IN_PROCESS = new Set(['worker', 'help', '--help', '-h', '--version', '-v', undefined]);

/** `--verbose` anywhere before `--`, and the arguments without it. */
function verboseFlag(argv: string[]): { verbose: boolean; rest: string[] } {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  const rest = [...options.filter((a) => a !== '--verbose'), ...(end === -1 ? [] : argv.slice(end))];
  return { verbose: rest.length !== argv.length, rest };
}

export async function launch(argv: string[], script: string): Promise<number> {
  const { verbose, rest } = verboseFlag(argv);
  if (verbose || process.env.RCAE_VERBOSE === '1' || process.env[CHILD_ENV] === '1' || IN_PROCESS.has(rest[0])) {
    if (process.env[CHILD_ENV] === '1' && process.channel) {
      // A parent killed outright (SIGKILL) cannot forward it; its child follows it instead of running on.
      process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
      // The parent reports the terminal's new width when it is resized.
      process.on('message', (message: { columns?: unknown }) => {
        const { columns } = message ?? {};
        if (typeof columns === 'number' && Number.isInteger(columns) && columns > 0) process.env[TERMINAL_COLUMNS_ENV] = String(columns);
      });
      // Listening re-references the channel; the command's end, not the channel, decides when to exit.
      process.channel.unref();
    }
    let main: (argv: string[]) => Promise<number>;
    try {
      ({ main } = await import('./main.js'));
    } catch (err) {
      const line = bindingFailure(err);
      if (!line) throw err;
      process.stderr.write(line + '\n');
      return 1;
    }
    return main(rest);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_ENV]: '1' };
  // The child's stderr is a pipe; tell it the terminal's width so it still draws progress.
  if (process.stderr.isTTY) env[TERMINAL_COLUMNS_ENV] = String(process.stderr.columns || 80);
  const child = spawn(process.execPath, [...process.execArgv, script, ...rest], { stdio: ['inherit', 'inherit', 'pipe', 'ipc'], env });
  if (process.stderr.isTTY) process.stderr.on('resize', () => child.connected && child.send({ columns: process.stderr.columns }));
  const filter = dawnNoticeFilter((text) => process.stderr.write(text));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => filter.push(chunk));
  // A terminal's Ctrl-C reaches the whole foreground process group, the child included; sending it
  // again would make it a double Ctrl-C.
  const fromTerminal = process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY;
  const forward = (signal: NodeJS.Signals) => {
    if (!(signal === 'SIGINT' && fromTerminal)) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`rcae: cannot start ${process.execPath}: ${err.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      filter.flush();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
