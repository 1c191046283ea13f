/**
 * The idle-socket probe: TCP keepalive tightened through setsockopt, the previous
 * values read first so they can be put back. A connection with nothing in flight
 * gives no TCP evidence; a keepalive probe makes the peer answer with an ACK,
 * which moves tcp_info's last_ack_recv (the kernel's rcv_tstamp) — proof of life
 * without any cooperation from the application protocol, for net, TLS and ws
 * connections alike.
 */
import { InvalidArgumentError } from '../errors';
import { loadBinding } from '../native/binding';
import { isTimerMs, MAX_TIMER_MS } from '../timer-ms';
import { socketFd, type TcpInfoUnavailable } from './tcp-info';
import type { GuardableConnection } from './socket-path';

export interface KeepaliveSettings {
  /** Idle time before the first probe (TCP_KEEPIDLE, whole seconds in the kernel; at least 1 s). */
  idleMs: number;
  /** Between probes (TCP_KEEPINTVL, whole seconds; at least 1 s). */
  intervalMs: number;
  /** Unanswered probes before the kernel drops the connection (TCP_KEEPCNT, 1-127). */
  count: number;
  /** TCP_USER_TIMEOUT in ms: unacknowledged data older than this drops the connection; null leaves it. */
  userTimeoutMs: number | null;
}

/** TCP_KEEPIDLE and TCP_KEEPINTVL take at most 32767 s (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL). */
const MAX_KEEPALIVE_MS = 32767 * 1000;

/**
 * Checks a keepalive option (`true`, `false` or some of KeepaliveSettings) when it is
 * given, not when a socket is probed: a value setsockopt() refuses would only show as a
 * probe that never runs. Throws InvalidArgumentError naming the field.
 */
export function checkKeepaliveOption(v: unknown, where: string): void {
  if (v === undefined || typeof v === 'boolean') return;
  if (v === null || typeof v !== 'object') {
    throw new InvalidArgumentError(`${where} must be true, false or an object of keepalive settings, got ${String(v)}`);
  }
  const s = v as Partial<Record<keyof KeepaliveSettings, unknown>>;
  for (const name of ['idleMs', 'intervalMs'] as const) {
    const ms = s[name];
    if (ms !== undefined && !(typeof ms === 'number' && ms >= 0 && ms <= MAX_KEEPALIVE_MS)) {
      throw new InvalidArgumentError(`${where}.${name} must be a number of milliseconds from 0 to ${MAX_KEEPALIVE_MS} (the kernel takes at most 32767 s), got ${String(ms)}`);
    }
  }
  if (s.count !== undefined && !(Number.isInteger(s.count) && (s.count as number) >= 1 && (s.count as number) <= 127)) {
    throw new InvalidArgumentError(`${where}.count must be an integer from 1 to 127 (TCP_KEEPCNT), got ${String(s.count)}`);
  }
  if (s.userTimeoutMs !== undefined && s.userTimeoutMs !== null && !isTimerMs(s.userTimeoutMs)) {
    throw new InvalidArgumentError(`${where}.userTimeoutMs must be null or a number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${String(s.userTimeoutMs)}`);
  }
}

/** The five options as they were: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT. */
export type SavedKeepalive = Int32Array;

export type ProbeResult = { ok: true; saved: SavedKeepalive } | { ok: false; reason: TcpInfoUnavailable };

function seconds(ms: number): number {
  return Math.max(1, Math.round(ms / 1000));
}

function apply(conn: GuardableConnection, values: Int32Array): ProbeResult {
  const r = socketFd(conn);
  if (r.fd === null) return { ok: false, reason: r.reason };
  let out: Int32Array;
  try {
    out = loadBinding().tcpKeepalive(r.fd, values);
  } catch {
    return { ok: false, reason: 'addon-unavailable' };
  }
  if (out[0] !== 0) return { ok: false, reason: out[0] === 95 || out[0] === 92 ? 'not-tcp' : `errno ${out[0]}` };
  return { ok: true, saved: out.slice(1) };
}

/** Enables keepalive with `s` on the connection's socket; returns the previous values. Never throws. */
export function tightenKeepalive(conn: GuardableConnection, s: KeepaliveSettings): ProbeResult {
  const count = Math.min(127, Math.max(1, Math.round(s.count)));
  const user = s.userTimeoutMs === null ? -1 : Math.max(0, Math.round(s.userTimeoutMs));
  return apply(conn, Int32Array.of(1, seconds(s.idleMs), seconds(s.intervalMs), count, user));
}

/** Puts back what tightenKeepalive() found. False when the socket is gone (nothing to restore). */
export function restoreKeepalive(conn: GuardableConnection, saved: SavedKeepalive): boolean {
  return apply(conn, saved).ok;
}
