/** A hardened server's counters and its latest failure (read through health()). */
import type { ServerHealth } from './hardened-server-types';

/** The failure code of a thrown value: its `code`, or ERR_HANDLER for a handler's plain throw. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERR_HANDLER';
}

export class ServerStats {
  accepted = 0;
  rejected = 0;
  readonly rejectedBy: Record<string, number> = {};
  open = 0;
  readonly errors: Record<string, number> = {};
  contained = 0;
  probed = 0;
  vanished = 0;
  lastError: ServerHealth['lastError'] = null;

  /** Counts a failure by code and keeps it as the latest. */
  fail(code: string, message: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    this.lastError = { code, message, time: Date.now() };
  }
}
