/**
 * NetlinkMonitor: the addon's socket, the network-state mirror behind it, and
 * kernel route lookups, as one object. Data flows one way: kernel -> addon ->
 * NetworkState -> 'event' listeners (the judge, your code).
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, MonitorClosedError, NetlinkError, RouteguardError, UnsupportedRuntimeError } from './errors';
import { emitIsolated } from './isolated-emit';
import { isTimerMs, MAX_TIMER_MS } from './timer-ms';
import { loadBinding } from './native/binding';
import { isLinux, unsupportedRuntime } from './platform';
import type { NativeMonitor, NativeMonitorStats } from './native/binding-types';
import { mapNativeError } from './native/errors';
import { routeJsonChunker } from './native/route-json';
import type { RouteQueryBatch } from './netlink/query-batch';
import type { NetworkEvent, Route, RouteQuery } from './netlink/types';
import type { NetworkSource, RouteLookupResult } from './netlink/view';
import { NetworkState, type RouteMode } from './mirror/network-state';
import { RouteLookups } from './route-lookups';

export { mapNativeError } from './native/errors';

export interface MonitorOptions {
  /** Network namespace to watch: "/run/netns/NAME" or "/proc/PID/ns/net". Default: this process's. */
  netns?: string;
  /** Netlink receive buffer in bytes (SO_RCVBUFFORCE when permitted). Default 8 MiB. */
  receiveBufferBytes?: number;
  /** Time source for event timestamps. Default: monotonic milliseconds since the epoch. */
  clock?: { now(): number };
  /** Closes the monitor when aborted. */
  signal?: AbortSignal;
  /**
   * Delay before re-dumping to confirm the kernel's silent route changes after a link
   * changes state, an IPv4 address goes (IPv4 flushes routes without RTM_DELROUTE) or a
   * nexthop group loses a member (its routes' nexthops change without RTM_NEWROUTE).
   * `false` disables it. Default 250 ms.
   */
  confirmDelayMs?: number | false;
  /** Keep the process alive while the monitor is open. Default true; see unref(). */
  ref?: boolean;
  /**
   * 'mirror' (default): `state` holds every route of every table. A full Internet table
   * (1M routes) costs ~80 MB and about a second of dump at start() and at every resync.
   * 'events': no route table and no route dump (start() costs the same with 10 routes
   * or 1M); live route notifications still arrive as route events, with `previous` null
   * (the kernel does not say what a route replaced), `state.routes()` is empty, and
   * lookupRoute() asks the kernel as always. For code that only needs kernel lookups,
   * links and addresses, like `routeguard path`.
   * 'stream': routes are dumped but not kept; each goes to `onDumpedRoute` as it arrives
   * (`routeguard dump --json` writes them out this way); otherwise as 'events'.
   */
  routes?: RouteMode;
  /** With routes: 'stream', called with each dumped route (see NetworkStateOptions). */
  onDumpedRoute?: (route: Route) => void;
  /**
   * With routes: 'stream', instead of onDumpedRoute: the dumped routes as UTF-8 JSON text in
   * chunks of ~256 KiB, each route written as `,` + JSON.stringify(route) (the same text,
   * formatted by the addon from its records without a Route object; several times faster
   * for a big table). `json` is a view of a buffer reused for the next chunk: write or
   * copy it (Buffer.from(json)) before returning.
   */
  onDumpedRoutesJson?: (json: Buffer) => void;
}

export const MONITOR_DEFAULTS = {
  receiveBufferBytes: 8 * 1024 * 1024,
  confirmDelayMs: 250,
  routes: 'mirror',
} as const;

export interface MonitorStats extends NativeMonitorStats {
  routes: number;
  /** Bytes held by the compact route table. */
  routeTableBytes: number;
}

/** Confirmation dumps are at least this many times their own duration apart. */
const CONFIRM_SPACING = 5;

/**
 * A dump the addon gave up on (interrupted by changes on every attempt) is retried after
 * 250 ms, doubling per consecutive give-up up to 30 s: constant churn (a flapping link)
 * must not keep a full-table mirror dumping back to back.
 */
const INCOMPLETE_RETRY_MS = { first: 250, max: 30_000 } as const;

const monotonicClock = { now: () => performance.timeOrigin + performance.now() };

export interface NetlinkMonitorEvents {
  event: [NetworkEvent];
  /** A problem the monitor survived (a failed dump, a netlink error). */
  warning: [RouteguardError];
  close: [];
}

function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/** An application callback run mid-batch: what it throws surfaces once the batch is applied (rethrowLater). */
function isolated<A>(fn: (arg: A) => void): (arg: A) => void {
  return (arg) => {
    try {
      fn(arg);
    } catch (err) {
      rethrowLater(err);
    }
  };
}

export class NetlinkMonitor extends EventEmitter<NetlinkMonitorEvents> implements NetworkSource {
  readonly state: NetworkState;
  private readonly options: MonitorOptions;
  private readonly clock: { now(): number };
  private native: NativeMonitor | null = null;
  // A started monitor answers from its own lookup socket, opened with it in the same
  // namespace: it keeps answering for that namespace if the name is reused later.
  private readonly lookups: RouteLookups;
  private closed = false;
  private starting: Promise<this> | null = null;
  private confirmTimer: NodeJS.Timeout | null = null;
  private resyncInFlight = false;
  private confirmAgain = false;
  private confirmStart = -1;
  private lastConfirmMs = 0;
  private lastConfirmEnd = -Infinity;
  private incompleteTimer: NodeJS.Timeout | null = null;
  /** Consecutive sync sequences that gave up a dump; 0 once one completes whole. */
  private incompleteStreak = 0;
  private incompleteInSequence = false;
  private readonly abortListener = () => this.close();
  /** Whether the open monitor holds the process: the `ref` option, then ref()/unref(). */
  private refd: boolean;

  constructor(options: MonitorOptions = {}) {
    super();
    validateOptions(options);
    this.options = options;
    this.refd = options.ref !== false;
    const json = options.onDumpedRoutesJson;
    this.state = new NetworkState({
      routes: options.routes ?? MONITOR_DEFAULTS.routes,
      onDumpedRoute: options.onDumpedRoute && isolated(options.onDumpedRoute),
      onDumpedRouteRecords: json && routeJsonChunker(isolated(json)),
    });
    this.clock = options.clock ?? monotonicClock;
    this.lookups = new RouteLookups(options.netns, () => this.native);
    options.signal?.addEventListener('abort', this.abortListener, { once: true });
  }

  get synced(): boolean {
    return this.state.synced;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens the socket, joins the groups, dumps everything; resolves once the mirror is synced. */
  start(): Promise<this> {
    if (this.starting) return this.starting;
    this.starting = new Promise<this>((resolve, reject) => {
      if (this.closed || this.options.signal?.aborted) {
        reject(new MonitorClosedError('start()'));
        return;
      }
      const onEvent = (e: NetworkEvent) => {
        if (e.type !== 'synced') return;
        this.off('event', onEvent);
        this.off('close', onClose);
        resolve(this);
      };
      const onClose = () => {
        this.off('event', onEvent);
        reject(new MonitorClosedError('start()'));
      };
      this.on('event', onEvent);
      this.once('close', onClose);
      try {
        const runtime = unsupportedRuntime();
        if (runtime && isLinux()) throw new UnsupportedRuntimeError(runtime);
        const binding = loadBinding();
        this.native = new binding.Monitor(
          {
            netns: this.options.netns,
            receiveBufferBytes: this.options.receiveBufferBytes ?? MONITOR_DEFAULTS.receiveBufferBytes,
            // The mirror reads each batch before onBatch returns and keeps nothing of it.
            reuseBatchBuffer: true,
            dumpRoutes: this.state.routeMode !== 'events',
          },
          (batch, byteLength) => this.onBatch(batch, byteLength),
        );
        if (!this.refd) this.native.unref();
        this.native.start();
      } catch (err) {
        this.off('event', onEvent);
        this.off('close', onClose);
        this.native = null;
        reject(mapNativeError(err, this.options.netns));
        // Closed as close() closes: the signal's listener goes, and 'close' ends any
        // `for await` loop that began before start().
        this.close();
      }
    });
    return this.starting;
  }

  private onBatch(batch: ArrayBuffer, byteLength: number): void {
    if (this.closed) return;
    this.state.apply(batch, this.clock.now(), {
      emit: (event) => this.deliver(event),
      silentChangesPossible: () => this.scheduleConfirm(),
      overflow: () => {
        this.resyncInFlight = true;
      },
      dumpIncomplete: (object, attempts) => this.onDumpIncomplete(object, attempts),
      error: (errno, message) =>
        this.warn(new NetlinkError(`netlink: ${message || `errno ${errno}`}`, errno)),
    }, byteLength);
  }

  private onDumpIncomplete(object: string, attempts: number): void {
    this.incompleteInSequence = true;
    const delay = Math.min(INCOMPLETE_RETRY_MS.first * 2 ** this.incompleteStreak, INCOMPLETE_RETRY_MS.max);
    this.warn(
      new NetlinkError(
        `netlink: the ${object} dump was interrupted by concurrent changes ${attempts} times in a row; ` +
          `what it read is kept (nothing removed) and everything is dumped again in ${delay} ms`,
        0,
      ),
    );
    if (this.incompleteTimer || this.closed) return;
    this.incompleteTimer = setTimeout(() => {
      this.incompleteTimer = null;
      if (this.closed || !this.native) return;
      this.state.expectResync('incomplete');
      this.resyncInFlight = true;
      this.native.resync();
    }, delay);
    this.incompleteTimer.unref();
  }

  private deliver(event: NetworkEvent): void {
    if (event.type === 'resync' || event.type === 'synced') {
      this.incompleteStreak = this.incompleteInSequence ? this.incompleteStreak + 1 : 0;
      this.incompleteInSequence = false;
    }
    if (event.type === 'resync') {
      this.resyncInFlight = false;
      if (event.reason === 'confirm' && this.confirmStart >= 0) {
        this.lastConfirmEnd = event.time;
        this.lastConfirmMs = event.time - this.confirmStart;
        this.confirmStart = -1;
      }
      if (this.confirmAgain) {
        this.confirmAgain = false;
        this.scheduleConfirm();
      }
    }
    this.emitEach('event', [event]);
  }

  private warn(err: RouteguardError): void {
    if (this.listenerCount('warning') > 0) this.emitEach('warning', [err]);
  }

  /**
   * Emits to each listener on its own. A throwing listener is the application's bug:
   * it surfaces as an uncaught exception, as any callback's would, but after this
   * emit: never mid-batch, where it would leave the mirror half-updated, and never
   * keeping the listeners after it (start()'s own, a judge's) from hearing.
   */
  private emitEach(event: 'event' | 'warning' | 'close', args: unknown[]): void {
    emitIsolated(this as EventEmitter, event, args, rethrowLater);
  }

  private scheduleConfirm(): void {
    const delay = this.options.confirmDelayMs ?? MONITOR_DEFAULTS.confirmDelayMs;
    if (delay === false || this.closed || !this.state.synced || this.confirmTimer) return;
    if (this.resyncInFlight) {
      this.confirmAgain = true;
      return;
    }
    // A confirmation re-dumps everything: with a full Internet table that is seconds of CPU.
    // A link that flaps every few seconds must not keep the monitor dumping, so confirmations
    // are spaced by at least CONFIRM_SPACING times the last one's duration (<= ~20% busy).
    const sinceLast = this.clock.now() - this.lastConfirmEnd;
    const spacing = this.lastConfirmMs * CONFIRM_SPACING - sinceLast;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null;
      if (this.closed || !this.native) return;
      this.state.expectResync('confirm');
      this.resyncInFlight = true;
      this.confirmStart = this.clock.now();
      this.native.resync();
    }, Math.max(delay, spacing));
    this.confirmTimer.unref();
  }

  /** Re-dumps the kernel's state; differences arrive as ordinary events, then a 'resync' notice. */
  resync(): void {
    if (!this.native || this.closed) throw new MonitorClosedError('resync()');
    this.state.expectResync('requested');
    this.resyncInFlight = true;
    this.native.resync();
  }

  /**
   * Asks the kernel which route it would use (RTM_GETROUTE, like `ip route get`).
   * Routing answers (no route, unreachable, ...) come back as `{ ok: false }`;
   * only misuse throws.
   */
  lookupRoute(query: RouteQuery): RouteLookupResult {
    if (this.closed) throw new MonitorClosedError('lookupRoute()');
    return this.lookups.one(query);
  }

  /**
   * lookupRoute() for many queries at once, answered in query order (a bad query throws
   * InvalidArgumentError naming its index, and nothing is asked). The kernel gets them in
   * a few system calls instead of two per query: see docs/monitor.md, "Batched lookups".
   */
  lookupRoutes(queries: readonly RouteQuery[]): RouteLookupResult[] {
    if (this.closed) throw new MonitorClosedError('lookupRoutes()');
    return this.lookups.many(queries);
  }

  /** lookupRoutes() for queries packed as bytes (RouteQueryBatch): no strings parsed. */
  lookupBatch(batch: RouteQueryBatch): RouteLookupResult[] {
    if (this.closed) throw new MonitorClosedError('lookupBatch()');
    return this.lookups.batch(batch);
  }

  /** Holds the process open while the monitor is (the default). Before start() it sets what start() does. */
  ref(): this {
    this.refd = true;
    this.native?.ref();
    return this;
  }

  /** Lets the process exit while the monitor is open; before start(), start() honours it. */
  unref(): this {
    this.refd = false;
    this.native?.unref();
    return this;
  }

  stats(): MonitorStats {
    if (!this.native) throw new MonitorClosedError('stats()');
    return {
      ...this.native.stats(),
      routes: this.state.routeCount,
      routeTableBytes: this.state.routeTable.byteSize,
    };
  }

  /** Idempotent. Ends async iteration; no event is emitted afterwards. */
  close(): void {
    if (this.closed && !this.native && !this.lookups.open) return;
    this.closed = true;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
    if (this.incompleteTimer) clearTimeout(this.incompleteTimer);
    this.incompleteTimer = null;
    this.options.signal?.removeEventListener('abort', this.abortListener);
    this.native?.close();
    this.native = null;
    this.lookups.close();
    this.emitEach('close', []);
  }

  /** `for await (const event of monitor)`: events from now until close() (or the loop breaks). */
  async *[Symbol.asyncIterator](): AsyncGenerator<NetworkEvent, void, undefined> {
    const queue: NetworkEvent[] = [];
    let wake: (() => void) | null = null;
    const onEvent = (e: NetworkEvent) => {
      queue.push(e);
      wake?.();
    };
    const onClose = () => wake?.();
    this.on('event', onEvent);
    this.on('close', onClose);
    try {
      for (;;) {
        // Once closed (or aborted) nothing more is delivered, not even what was queued.
        while (queue.length > 0 && !this.closed) yield queue.shift()!;
        if (this.closed) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      this.off('event', onEvent);
      this.off('close', onClose);
    }
  }
}

function validateOptions(o: MonitorOptions): void {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('NetlinkMonitor options must be an object');
  if (o.netns !== undefined && (typeof o.netns !== 'string' || o.netns === '')) {
    throw new InvalidArgumentError(`netns must be a path like /run/netns/NAME, got ${JSON.stringify(o.netns)}`);
  }
  // Read at every batch and at start(): a wrong one would throw inside the addon's callback.
  if (o.clock !== undefined && typeof (o.clock as { now?: unknown } | null)?.now !== 'function') {
    throw new InvalidArgumentError('clock must be an object with now() (milliseconds)');
  }
  // What the monitor uses of it (an AbortSignal of another realm or a polyfill has them too).
  const signal = o.signal as { addEventListener?: unknown; removeEventListener?: unknown } | null | undefined;
  if (signal !== undefined && (typeof signal?.addEventListener !== 'function' || typeof signal.removeEventListener !== 'function')) {
    throw new InvalidArgumentError(`signal must be an AbortSignal, got ${String(o.signal)}`);
  }
  if (
    o.receiveBufferBytes !== undefined &&
    !(Number.isInteger(o.receiveBufferBytes) && o.receiveBufferBytes >= 4096 && o.receiveBufferBytes <= 2 ** 31 - 1)
  ) {
    throw new InvalidArgumentError(`receiveBufferBytes must be an integer from 4096 to 2^31-1, got ${o.receiveBufferBytes}`);
  }
  if (o.routes !== undefined && o.routes !== 'mirror' && o.routes !== 'events' && o.routes !== 'stream') {
    throw new InvalidArgumentError(`routes must be 'mirror', 'events' or 'stream', got ${JSON.stringify(o.routes)}`);
  }
  if (o.onDumpedRoute !== undefined && (typeof o.onDumpedRoute !== 'function' || o.routes !== 'stream')) {
    throw new InvalidArgumentError("onDumpedRoute must be a function, given with routes: 'stream'");
  }
  if (o.onDumpedRoutesJson !== undefined) {
    if (typeof o.onDumpedRoutesJson !== 'function' || o.routes !== 'stream') {
      throw new InvalidArgumentError("onDumpedRoutesJson must be a function, given with routes: 'stream'");
    }
    if (o.onDumpedRoute !== undefined) {
      throw new InvalidArgumentError('give onDumpedRoute or onDumpedRoutesJson, not both: each dumped route goes to one of them');
    }
  }
  if (o.confirmDelayMs !== undefined && o.confirmDelayMs !== false && !isTimerMs(o.confirmDelayMs)) {
    throw new InvalidArgumentError(
      `confirmDelayMs must be a number of milliseconds from 0 to ${MAX_TIMER_MS} (Node's longest timer) or false, got ${String(o.confirmDelayMs)}`,
    );
  }
}
