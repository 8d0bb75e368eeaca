// `rcae` command dispatch: parses the sub-command, runs it, and turns any failure into one line on
// stderr and a non-zero exit. Commands do their work through the library API; none touches the GPU
// directly.

import '../node/node-platform.js';
import { commands } from './commands/index.js';
import { printable } from '../printable.js';
import { EXIT_STATUS_OF_KIND, exitStatusOf } from './exit-status.js';
import { didYouMean } from './suggest.js';

const USAGE = `rcae — residual convolutional autoencoder on WebGPU

Usage: rcae <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n')}

Run \`rcae <command> --help\` (or \`rcae help <command>\`) for a command's options.
--verbose (any command) also shows the GPU driver's own notices on stderr; -v prints the version.`;

export async function main(argv: string[]): Promise<number> {
  // A closed pipe (`rcae score ... | head`) ends the output, not the program with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return main([rest[0], '--help']);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : EXIT_STATUS_OF_KIND.usage;
  }
  if (name === '--version' || name === '-v') {
    const { version } = await import('../node/version.js');
    process.stdout.write(version() + '\n');
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`rcae: unknown command '${name}'${didYouMean(name, commands.map((c) => c.name))} (rcae --help lists them)\n`);
    return EXIT_STATUS_OF_KIND.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // One line, whatever the message holds: file names and member names come from strangers.
    process.stderr.write(`rcae ${name}: ${printable(message.split('\n')[0])}\n`);
    if (process.env.RCAE_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return exitStatusOf(err);
  }
}
