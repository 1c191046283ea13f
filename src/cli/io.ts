/** What every CLI command receives: its output streams and a signal aborted on SIGINT/SIGTERM. */
import type { Writable } from 'node:stream';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Aborted when the user interrupts (Ctrl-C) or the process is asked to stop. */
  signal: AbortSignal;
}

/** A CLI command: `src/cli/commands/<name>.ts` exports `run`. Resolves to the exit code. */
export type CommandRun = (argv: string[], io: CliIo) => Promise<number>;

/** A usage mistake: printed with the command's help, exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}
