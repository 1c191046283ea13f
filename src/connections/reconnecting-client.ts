/**
 * ReconnectingWebSocket: a ws client under a ConnectionGuard. When its
 * connection is closed because the route is gone, it waits until the kernel has
 * a route to the peer again (asking on every network event and every
 * routeCheckMs), then reconnects after a back-off with jitter; failed attempts
 * back off further. ws is an optional peer dependency, loaded on first use.
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError } from '../errors';
import { MAX_TIMER_MS } from '../timer-ms';
import { isSendableCloseCode } from './guard-options';
import { normalizeIp } from '../netlink/ip';
import type { NetworkEvent } from '../netlink/types';
import type { NetworkSource } from '../netlink/view';
import type { ConnectionGuard, TrackOptions } from './connection-guard';
import { RECONNECT_DEFAULTS } from './defaults';
import type { RouteGoneError } from './errors';
import { emitIsolated } from '../isolated-emit';
import { componentLogger, type Logger } from './logger';
import type { TrackedConnection } from './tracked-connection';
import type { WsClient, WsClientOptions, WsMessageData, WsSendData } from './ws-client-types';

export type WebSocketConstructor = new (address: string | URL, protocols?: string | string[], options?: WsClientOptions) => WsClient;

export interface ReconnectingWebSocketOptions {
  /** Tracks every connection made; its source (or `source`) answers "is there a route again?". */
  guard: ConnectionGuard;
  /** Where to ask for routes. Default: the guard's source. Without one, reconnects only back off. */
  source?: NetworkSource;
  protocols?: string | string[];
  /** Options for each `new WebSocket(address, protocols, ws)`. */
  ws?: WsClientOptions;
  /** The WebSocket class. Default: require('ws'). */
  WebSocket?: WebSocketConstructor;
  /** Options for tracking each connection (action, closeMode, mark). */
  track?: Omit<TrackOptions, 'addresses'>;
  /** 'gone' (default): reconnect after a close for a lost route. 'unexpected': after any close not asked for. */
  reconnectOn?: 'gone' | 'unexpected';
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** 0..1, the random share of each delay. */
  jitter?: number;
  routeCheckMs?: number;
  maxAttempts?: number;
  logger?: Logger;
  /** Random source in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
}

export type ReconnectingState = 'connecting' | 'open' | 'waiting-for-route' | 'backoff' | 'closed';

export interface ReconnectingCloseInfo {
  code: number;
  reason: string;
  /** Set when the guard closed the connection because its route was gone. */
  gone: RouteGoneError | null;
  /** A reconnect follows (after a route exists again / after a back-off). */
  willReconnect: boolean;
}

export interface ReconnectingWebSocketEvents {
  open: [WsClient, TrackedConnection | null];
  message: [WsMessageData, boolean];
  close: [ReconnectingCloseInfo];
  'waiting-for-route': [{ remote: string }];
  'route-available': [{ remote: string; waitedMs: number }];
  reconnecting: [{ attempt: number; delayMs: number }];
  'connect-failed': [{ attempt: number; error: Error | null }];
  /** maxAttempts attempts in a row failed. */
  'gave-up': [{ attempts: number }];
}

/** URL schemes ws connects to (ws+unix: is not a network path). */
const WS_PROTOCOLS = new Set(['ws:', 'wss:', 'http:', 'https:']);

function checkNumber(name: string, v: unknown, min: number, max = Infinity): void {
  if (v !== undefined && !(typeof v === 'number' && v >= min && v <= max)) {
    throw new InvalidArgumentError(`ReconnectingWebSocket: ${name} must be a number from ${min} to ${max}, got ${String(v)}`);
  }
}

function loadWebSocket(): WebSocketConstructor {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('ws') as { WebSocket: WebSocketConstructor }).WebSocket;
  } catch (err) {
    throw new InvalidArgumentError(
      `ReconnectingWebSocket needs the "ws" package (npm install ws) or a WebSocket class in options.WebSocket: ${(err as Error).message}`,
    );
  }
}

export class ReconnectingWebSocket extends EventEmitter<ReconnectingWebSocketEvents> {
  readonly address: string;
  private readonly options: ReconnectingWebSocketOptions;
  private readonly settings: {
    reconnectOn: 'gone' | 'unexpected';
    initialDelayMs: number;
    maxDelayMs: number;
    factor: number;
    jitter: number;
    routeCheckMs: number;
    maxAttempts: number;
  };
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly source: NetworkSource | null;
  private readonly log: Logger;
  private readonly random: () => number;
  private ws: WsClient | null = null;
  private trackedConn: TrackedConnection | null = null;
  private current: ReconnectingState = 'connecting';
  /** Failed attempts since the last open. */
  private failures = 0;
  private attempts = 0;
  private recovering = false;
  private userClosed = false;
  private remote: string | null;
  private timer: NodeJS.Timeout | null = null;
  private routeInterval: NodeJS.Timeout | null = null;
  private routeWaitStart = 0;
  private routeCheckQueued = false;
  private readonly onNetworkEvent = (event: NetworkEvent) => {
    if (event.type === 'synced' || event.type === 'dropped' || this.routeCheckQueued) return;
    this.routeCheckQueued = true;
    setImmediate(() => {
      this.routeCheckQueued = false;
      this.checkRoute();
    });
  };

  constructor(address: string | URL, options: ReconnectingWebSocketOptions) {
    super();
    if (!options?.guard || typeof options.guard.track !== 'function') {
      throw new InvalidArgumentError('ReconnectingWebSocket: options.guard (a ConnectionGuard) is required');
    }
    if (options.reconnectOn !== undefined && options.reconnectOn !== 'gone' && options.reconnectOn !== 'unexpected') {
      throw new InvalidArgumentError(`ReconnectingWebSocket: reconnectOn must be 'gone' or 'unexpected', got ${String(options.reconnectOn)}`);
    }
    // Delays wait on Node timers: a longer one would fire after 1 ms.
    checkNumber('initialDelayMs', options.initialDelayMs, 0, MAX_TIMER_MS);
    checkNumber('maxDelayMs', options.maxDelayMs, 0, MAX_TIMER_MS);
    checkNumber('factor', options.factor, 1);
    checkNumber('jitter', options.jitter, 0, 1);
    checkNumber('routeCheckMs', options.routeCheckMs, 10, MAX_TIMER_MS);
    checkNumber('maxAttempts', options.maxAttempts, 1);
    this.address = String(address);
    this.options = options;
    this.settings = {
      reconnectOn: options.reconnectOn ?? RECONNECT_DEFAULTS.reconnectOn,
      initialDelayMs: options.initialDelayMs ?? RECONNECT_DEFAULTS.initialDelayMs,
      maxDelayMs: options.maxDelayMs ?? RECONNECT_DEFAULTS.maxDelayMs,
      factor: options.factor ?? RECONNECT_DEFAULTS.factor,
      jitter: options.jitter ?? RECONNECT_DEFAULTS.jitter,
      routeCheckMs: options.routeCheckMs ?? RECONNECT_DEFAULTS.routeCheckMs,
      maxAttempts: options.maxAttempts ?? RECONNECT_DEFAULTS.maxAttempts,
    };
    this.WebSocketClass = options.WebSocket ?? loadWebSocket();
    this.source = options.source ?? options.guard.source;
    this.log = componentLogger(options.logger, 'reconnecting-websocket').child({ address: this.address });
    this.random = options.random ?? Math.random;
    let url: URL;
    try {
      url = new URL(this.address);
    } catch {
      throw new InvalidArgumentError(`ReconnectingWebSocket: not a URL: ${this.address}`);
    }
    if (!WS_PROTOCOLS.has(url.protocol)) {
      throw new InvalidArgumentError(`ReconnectingWebSocket: the URL must be ws:, wss:, http: or https:, got ${url.protocol} (${this.address})`);
    }
    this.remote = normalizeIp(url.hostname.replace(/^\[|\]$/g, ''));
    this.connect(true);
  }

  override emit<K extends keyof ReconnectingWebSocketEvents>(event: K, ...args: ReconnectingWebSocketEvents[K]): boolean {
    return emitIsolated(this as EventEmitter, event, args, (err, ev) =>
      this.log.error({ err, event: String(ev) }, 'a ReconnectingWebSocket listener failed'),
    );
  }

  get state(): ReconnectingState {
    return this.current;
  }

  /** The WebSocket of the current connection (null while waiting). */
  get socket(): WsClient | null {
    return this.ws;
  }

  /** The guard's record of the current connection. */
  get tracked(): TrackedConnection | null {
    return this.trackedConn;
  }

  /** Connections attempted so far (the first one included). */
  get attemptCount(): number {
    return this.attempts;
  }

  /** Sends on the open connection; false (nothing sent) when not open. */
  send(data: WsSendData, callback?: (err?: Error) => void): boolean {
    if (this.current !== 'open' || !this.ws) return false;
    this.ws.send(data, callback ?? (() => undefined));
    return true;
  }

  /**
   * Closes the connection and stops reconnecting. Idempotent. A code or reason the
   * WebSocket could not send is refused before anything changes.
   */
  close(code = 1000, reason = ''): void {
    if (this.userClosed) return;
    if (!isSendableCloseCode(code)) {
      throw new InvalidArgumentError(`ReconnectingWebSocket.close: code must be 1000-1003, 1007-1014 or 3000-4999, got ${String(code)}`);
    }
    if (typeof reason !== 'string' || Buffer.byteLength(reason) > 123) {
      throw new InvalidArgumentError('ReconnectingWebSocket.close: reason must be a string of at most 123 bytes (UTF-8), as a close frame holds');
    }
    this.userClosed = true;
    this.stopWaiting();
    const ws = this.ws;
    const wasOpen = this.current === 'open' || this.current === 'connecting';
    this.current = 'closed';
    if (ws && wasOpen) {
      try {
        ws.close(code, reason);
      } catch (err) {
        this.log.warn({ err }, 'close() threw: terminated instead');
        ws.terminate();
      }
    } else {
      this.emit('close', { code, reason, gone: null, willReconnect: false });
    }
  }

  /** `first`: from the constructor, where a WebSocket that cannot even be made is the caller's error. */
  private connect(first = false): void {
    this.current = 'connecting';
    this.attempts++;
    let ws: WsClient;
    try {
      ws = new this.WebSocketClass(this.address, this.options.protocols, this.options.ws);
    } catch (err) {
      // Bad protocols or ws options throw at once: reported as events here, they would
      // fire before the caller could listen, and the object would come back closed.
      if (first) throw new InvalidArgumentError(`ReconnectingWebSocket: ${(err as Error)?.message ?? String(err)}`);
      this.onAttemptFailed(err as Error);
      return;
    }
    this.ws = ws;
    let opened = false;
    let lastError: Error | null = null;
    ws.on('error', (err) => {
      lastError = err;
    });
    ws.on('open', () => {
      opened = true;
      this.failures = 0;
      this.recovering = false;
      this.trackedConn = this.trackOpen(ws);
      if (this.trackedConn?.path) this.remote = this.trackedConn.path.remote;
      if (this.userClosed) {
        ws.close(1000);
        return;
      }
      this.current = 'open';
      this.emit('open', ws, this.trackedConn);
    });
    ws.on('message', (data, isBinary) => this.emit('message', data, isBinary));
    ws.on('close', (code, reasonBuffer) => {
      const gone = this.trackedConn?.closeError ?? null;
      this.ws = null;
      this.trackedConn = null;
      const reason = reasonBuffer.toString();
      if (this.userClosed) {
        this.current = 'closed';
        this.emit('close', { code, reason, gone, willReconnect: false });
        return;
      }
      if (!opened) {
        this.onAttemptFailed(lastError);
        return;
      }
      const reconnect = gone !== null || this.settings.reconnectOn === 'unexpected';
      this.emit('close', { code, reason, gone, willReconnect: reconnect });
      if (!reconnect) {
        this.current = 'closed';
        return;
      }
      this.recovering = true;
      if (gone) this.waitForRoute();
      else this.scheduleAttempt();
    });
  }

  private trackOpen(ws: WsClient): TrackedConnection | null {
    try {
      return this.options.guard.track(ws, this.options.track);
    } catch (err) {
      this.log.error({ err }, 'could not track the connection');
      return null;
    }
  }

  private onAttemptFailed(error: Error | null): void {
    this.failures++;
    this.emit('connect-failed', { attempt: this.attempts, error });
    if (this.userClosed) return;
    if (!this.recovering && this.settings.reconnectOn === 'gone') {
      // The first connection failed: nothing was lost, so there is nothing to recover.
      this.current = 'closed';
      this.emit('close', { code: 1006, reason: error?.message ?? '', gone: null, willReconnect: false });
      return;
    }
    this.recovering = true;
    this.scheduleAttempt();
  }

  /** The next attempt after a back-off (initialDelayMs * factor^failures, capped, with jitter). */
  private scheduleAttempt(): void {
    if (this.userClosed) return;
    if (this.failures >= this.settings.maxAttempts) {
      this.current = 'closed';
      this.log.warn({ failures: this.failures }, 'giving up reconnecting');
      this.emit('gave-up', { attempts: this.failures });
      return;
    }
    const { initialDelayMs, factor, maxDelayMs, jitter } = this.settings;
    const base = Math.min(initialDelayMs * factor ** this.failures, maxDelayMs);
    const delayMs = Math.round(base * (1 - jitter * this.random()));
    this.current = 'backoff';
    this.emit('reconnecting', { attempt: this.attempts + 1, delayMs });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.userClosed) return;
      if (this.remote && this.source && !this.routeExists(this.remote)) this.waitForRoute();
      else this.connect();
    }, delayMs);
  }

  private routeExists(remote: string): boolean {
    try {
      const answer = this.source!.lookupRoute({ to: remote });
      return answer.ok && (answer.route.type === 'unicast' || answer.route.type === 'local');
    } catch (err) {
      // A closed monitor cannot say: the attempt itself will (waiting would never end).
      if ((err as { code?: unknown } | null)?.code === 'ERR_MONITOR_CLOSED') {
        this.log.debug({ err }, 'the route source is closed: connecting without its answer');
        return true;
      }
      this.log.debug({ err }, 'route lookup failed');
      return false;
    }
  }

  private waitForRoute(): void {
    if (!this.remote || !this.source) {
      this.scheduleAttempt();
      return;
    }
    this.current = 'waiting-for-route';
    this.routeWaitStart = Date.now();
    this.emit('waiting-for-route', { remote: this.remote });
    this.source.on('event', this.onNetworkEvent);
    this.routeInterval = setInterval(() => this.checkRoute(), this.settings.routeCheckMs);
    this.checkRoute();
  }

  private checkRoute(): void {
    if (this.current !== 'waiting-for-route' || !this.remote || !this.routeExists(this.remote)) return;
    const waitedMs = Date.now() - this.routeWaitStart;
    this.stopWaiting();
    this.log.info({ remote: this.remote, waitedMs }, 'route to the peer exists again');
    this.emit('route-available', { remote: this.remote, waitedMs });
    this.scheduleAttempt();
  }

  private stopWaiting(): void {
    this.source?.off('event', this.onNetworkEvent);
    if (this.routeInterval) clearInterval(this.routeInterval);
    if (this.timer) clearTimeout(this.timer);
    this.routeInterval = this.timer = null;
  }
}
