/**
 * ConnectionGuard's and track()'s options checked (a clear InvalidArgumentError
 * naming the option) and the per-connection settings resolved over their defaults.
 */
import { InvalidArgumentError } from '../errors';
import { checkClock } from '../judge/hold-downs';
import { checkTimerMs } from '../timer-ms';
import type { ConnectionGuardOptions } from './connection-guard';
import { GUARD_DEFAULTS, PROBE_DEFAULTS } from './defaults';
import { checkKeepaliveOption, type KeepaliveSettings } from './keepalive-probe';
import type { ConnectionSettings } from './tracked-connection';

/**
 * The codes a WebSocket endpoint may send (RFC 6455 7.4, IANA's registry; ws's
 * isValidStatusCode): 1004-1006 and 1015 are reserved, 1016-2999 unassigned, and ws's
 * close() throws on them — at a verdict, long after the option was accepted.
 */
export function isSendableCloseCode(code: unknown): boolean {
  if (typeof code !== 'number' || !Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export function checkSettings(o: Partial<ConnectionSettings> & { mark?: number }, where: string): void {
  if (o.action !== undefined && o.action !== 'close' && o.action !== 'notify' && typeof o.action !== 'function') {
    throw new InvalidArgumentError(`${where}: action must be 'close', 'notify' or a function, got ${String(o.action)}`);
  }
  if (o.closeMode !== undefined && o.closeMode !== 'terminate' && o.closeMode !== 'close') {
    throw new InvalidArgumentError(`${where}: closeMode must be 'terminate' or 'close', got ${String(o.closeMode)}`);
  }
  checkTimerMs(`${where}: closeTimeoutMs`, o.closeTimeoutMs);
  if (o.closeCode !== undefined && !isSendableCloseCode(o.closeCode)) {
    throw new InvalidArgumentError(
      `${where}: closeCode must be a close code an endpoint may send (1000-1003, 1007-1014 or 3000-4999), got ${String(o.closeCode)}`,
    );
  }
  if (o.mark !== undefined && !(Number.isInteger(o.mark) && o.mark >= 0 && o.mark <= 0xffffffff)) {
    throw new InvalidArgumentError(`${where}: mark must be an unsigned 32-bit integer, got ${o.mark}`);
  }
}

/** The constructor's checks, before anything is built. */
export function checkGuardOptions(options: ConnectionGuardOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('ConnectionGuard options must be an object with `source` or `judge`');
  }
  const inert = options.inert ?? GUARD_DEFAULTS.inert;
  if (!inert && !options.judge && !options.source) {
    throw new InvalidArgumentError(
      'ConnectionGuard needs `source` (a started NetlinkMonitor) or `judge` (a PathJudge) to get verdicts from',
    );
  }
  if (options.judge && typeof options.judge.watch !== 'function') {
    throw new InvalidArgumentError('ConnectionGuard: `judge` must have a watch(spec) method (a PathJudge)');
  }
  checkSettings(options, 'ConnectionGuard');
  checkTimerMs('ConnectionGuard: sampleIntervalMs', options.sampleIntervalMs);
  checkKeepaliveOption(options.probe, 'ConnectionGuard: probe');
  checkClock(options.clock, 'ConnectionGuard: clock');
}

/** Per-connection settings: those given, else `base`'s. */
export function settingsOver(o: Partial<ConnectionSettings>, base: ConnectionSettings): ConnectionSettings {
  return {
    action: o.action ?? base.action,
    closeMode: o.closeMode ?? base.closeMode,
    closeTimeoutMs: o.closeTimeoutMs ?? base.closeTimeoutMs,
    closeCode: o.closeCode ?? base.closeCode,
  };
}

/** The keepalive while a path is suspect (the `probe` option), or null when off. */
export function suspectProbe(probe: boolean | Partial<KeepaliveSettings> | undefined): KeepaliveSettings | null {
  return probe ? { ...PROBE_DEFAULTS.suspect, ...(probe === true ? {} : probe) } : null;
}
