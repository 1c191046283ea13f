/**
 * Every default of the connections layer, in one place: the connection guard,
 * hardened servers and the reconnecting client read their options against these.
 */

import { canMonitor } from '../platform';

export const GUARD_DEFAULTS = {
  /**
   * Watch nothing, close nothing: true where no monitor can run (off Linux, or under Bun's
   * runtime, see platform.ts), so the same app code runs there.
   */
  inert: !canMonitor(),
  /** What happens to a connection whose path is gone: 'close', 'notify', or a callback. */
  action: 'close',
  /** How a WebSocket is closed: 'terminate' (no handshake over a dead path) or 'close' (1001, then terminate). */
  closeMode: 'terminate',
  /** With closeMode 'close': how long the close handshake may take before the socket is destroyed. */
  closeTimeoutMs: 500,
  /** With closeMode 'close': the close code sent (1001 Going Away). */
  closeCode: 1001,
} as const;

export const SERVER_DEFAULTS = {
  /** How often the process checks that it can still open a descriptor (EMFILE/ENFILE watch). */
  descriptorProbeMs: 250,
  /** First pause of the listener after descriptors ran out. */
  pauseInitialMs: 100,
  /** Longest pause; pauses double up to this while descriptors stay exhausted. */
  pauseMaxMs: 5000,
  /** After this long without exhaustion the next pause starts again from pauseInitialMs. */
  pauseResetMs: 10_000,
} as const;

export const RECONNECT_DEFAULTS = {
  /** Which closes lead to a reconnect: 'gone' (route lost) or 'unexpected' (any close not asked for). */
  reconnectOn: 'gone',
  /** First delay before a reconnect attempt, once a route exists. */
  initialDelayMs: 250,
  /** Longest delay between attempts. */
  maxDelayMs: 10_000,
  /** Growth of the delay after each failed attempt. */
  factor: 2,
  /** Fraction of each delay that is random (0 = none, 1 = anywhere from 0 to the delay). */
  jitter: 0.5,
  /** While waiting for a route: how often to ask the kernel again, besides on every network event. */
  routeCheckMs: 1000,
  /** Failed attempts in a row before giving up; Infinity = never give up. */
  maxAttempts: Infinity,
} as const;

export const PROBE_DEFAULTS = {
  /** How often the sockets of suspect paths are sampled (tcp_info, one addon call for all). */
  sampleIntervalMs: 500,
  /**
   * Keepalive while a path is suspect (ConnectionGuard `probe`): a probe after 1 s idle,
   * then every second, so an idle socket shows an ACK within ~1-2 s when its path
   * works. The count is the kernel's maximum and TCP_USER_TIMEOUT is left alone: the
   * probe gathers evidence, it must not let the kernel drop a connection through
   * churn the judge would ride out.
   */
  suspect: { idleMs: 1000, intervalMs: 1000, count: 127, userTimeoutMs: null },
  /**
   * Keepalive on hardened servers' connections (`keepaliveProbe`): a client that
   * vanished (no FIN, no RST: its host lost power or its network) is dropped by the
   * kernel after 30 s idle + 3 unanswered probes 5 s apart; TCP_USER_TIMEOUT drops one
   * with unacknowledged data after 45 s.
   */
  server: { idleMs: 30_000, intervalMs: 5000, count: 3, userTimeoutMs: 45_000 },
} as const;
