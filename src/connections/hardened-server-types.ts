/**
 * The public types of hardened servers: what can be hardened, the options, the
 * health handle's figures and the events (re-exported by hardened-server.ts).
 */
import type { EventEmitter } from 'node:events';
import type { Server as NetServer } from 'node:net';
import type { ConnectionGuard, TrackOptions } from './connection-guard';
import type { KeepaliveSettings } from './keepalive-probe';
import type { Logger } from './logger';

/** The parts of a ws WebSocketServer used here. */
export interface WebSocketServerLike extends EventEmitter {
  options: { server?: NetServer | null; noServer?: boolean };
  handleUpgrade: (...args: never[]) => void;
}

export type HardenableServer = NetServer | WebSocketServerLike;

export interface HardenOptions {
  /** Track every accepted connection with this guard (ws connections for a WebSocketServer). */
  guard?: ConnectionGuard;
  /** Options for the connections tracked. */
  track?: Omit<TrackOptions, 'addresses'>;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** Pause the listener while descriptors are exhausted. Default true. */
  pauseOnExhaustion?: boolean;
  /** How often to check that a descriptor can be opened. Default 250 ms. */
  descriptorProbeMs?: number;
  /** First pause. Default 100 ms. */
  pauseInitialMs?: number;
  /** Longest pause. Default 5000 ms. */
  pauseMaxMs?: number;
  /** Time without exhaustion after which pauses start short again. Default 10000 ms. */
  pauseResetMs?: number;
  /**
   * Opt-in: find connections whose client vanished (no FIN, no RST). Each accepted
   * socket gets TCP keepalive and TCP_USER_TIMEOUT (true: PROBE_DEFAULTS.server), so
   * the kernel drops it with ETIMEDOUT; counted in health().vanished. Off by default:
   * the server's own path is fine, so nothing else would ever close them.
   */
  keepaliveProbe?: boolean | Partial<KeepaliveSettings>;
}

export interface ServerHealth {
  /** The listener is open (false while paused). */
  listening: boolean;
  /** The listener is closed for lack of descriptors and will listen again. */
  paused: boolean;
  /** Connections handed to the application. */
  accepted: number;
  /** Connections closed at accept, before the application saw them. */
  rejected: number;
  /** Rejections by reason ('address-unavailable'). */
  rejectedBy: Record<string, number>;
  /** Connections open now (accepted and not yet closed). */
  open: number;
  /**
   * Failures by code: descriptor exhaustion (EMFILE, ENFILE), accept errors,
   * unavailable addresses (ENOTCONN, ...), connection errors nobody listened to
   * (ECONNRESET, ...), handshake failures, and ERR_HANDLER for handlers that threw.
   */
  errors: Record<string, number>;
  /** Per-connection failures contained (each closed that connection only). */
  contained: number;
  /** Times the listener was paused. */
  pauses: number;
  /** Connections given the keepalive probe (keepaliveProbe), and those it found vanished (ETIMEDOUT). */
  probed: number;
  vanished: number;
  /** The latest failure. */
  lastError: { code: string; message: string; time: number } | null;
}

export interface RejectedInfo {
  reason: 'address-unavailable';
  /** errno name from getpeername()/getsockname(). */
  code: string;
  localPort: number | null;
  time: number;
}

export interface ContainedInfo {
  /** The event whose listener failed, or 'error' for an error nobody listened to. */
  event: string;
  code: string;
  error: unknown;
  localPort: number | null;
  remoteAddress: string | null;
  time: number;
}

export interface HardenedServerEvents {
  rejected: [RejectedInfo];
  contained: [ContainedInfo];
  'accept-error': [NodeJS.ErrnoException];
  paused: [{ code: string; pauseMs: number; time: number }];
  resumed: [{ pausedForMs: number; time: number }];
}
