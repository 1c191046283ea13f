/**
 * `routeguard <command>`: dispatches to src/cli/commands/<name>.ts, loaded on demand
 * so that `routeguard dump` does not load the WebSocket code.
 */
import { RouteguardError } from '../errors';
import { UsageError, type CliIo, type CommandRun } from './io';
import { packageVersion } from './version';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: CommandRun }> }> = {
  dump: { summary: 'print links, addresses and routes of all tables', load: () => import('./commands/dump') },
  monitor: { summary: 'print live link/address/route events', load: () => import('./commands/monitor') },
  path: { summary: 'watch one path live and print its verdicts', load: () => import('./commands/path') },
  record: { summary: 'record live events and lookups as NDJSON for replay', load: () => import('./commands/record') },
  replay: { summary: 'replay a recording and print a path\'s verdict timeline', load: () => import('./commands/replay') },
  demo: { summary: 'churn vs. real outage in two namespaces (root)', load: () => import('./commands/demo') },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `usage: routeguard <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nrouteguard <command> --help for a command's options; routeguard --version prints the version\n`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`routeguard: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const { run } = await command.load();
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`routeguard ${name}: ${err.message}\n`);
      return 2;
    }
    const missing = (err as { code?: string; message?: string })?.code === 'MODULE_NOT_FOUND' &&
      /'ws'/.test(String((err as Error).message));
    if (missing) {
      // ws is an optional peer dependency: only the WebSocket parts need it.
      io.stderr.write(`routeguard ${name}: needs the "ws" package (npm install ws)\n`);
      return 1;
    }
    if (err instanceof RouteguardError) {
      io.stderr.write(`routeguard ${name}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    // A system error of the command's own I/O (a file that does not exist, no permission,
    // a full disk): its message names the path; a stack trace would say nothing more.
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string') {
      io.stderr.write(`routeguard ${name}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
