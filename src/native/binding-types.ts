/**
 * The addon's interface, declared once (the @serialport/bindings-cpp pattern):
 * the native side stays thin and typed at this boundary; src/ owns policy.
 * Batches and lookup results are ArrayBuffers in the record format
 * (native/record_format.h, src/netlink/record-format.ts).
 */

export interface NativeMonitorOptions {
  /** Network namespace to watch: "/run/netns/NAME" or "/proc/PID/ns/net". */
  netns?: string;
  /** Receive buffer in bytes; SO_RCVBUFFORCE when permitted, else SO_RCVBUF. */
  receiveBufferBytes?: number;
  /**
   * One ArrayBuffer for every batch (grown for a dump, shrunk for events): onBatch then
   * reads its first `byteLength` bytes and must not keep it. Default false: a fresh
   * ArrayBuffer of exactly the batch per call.
   */
  reuseBatchBuffer?: boolean;
  /** false: dumps leave routes out (route notifications still arrive). Default true. */
  dumpRoutes?: boolean;
}

export interface NativeMonitorStats {
  /** The socket's netlink port id (nl_pid), as bound by the kernel. */
  portId: number;
  /** Receive buffer the kernel actually granted (SO_RCVBUF readback). */
  receiveBufferBytes: number;
  overflows: number;
  droppedNotFromKernel: number;
  droppedTruncated: number;
  droppedMalformed: number;
  dumpRetries: number;
  dumpErrors: number;
  messages: number;
  batches: number;
}

export interface NativeMonitor {
  /** Joins the multicast groups (done in the constructor) then starts the initial dump. */
  start(): void;
  /** Re-dumps everything (a resync): records flagged kFromDump, framed by kDumpBegin/kDumpEnd. */
  resync(): void;
  ref(): void;
  unref(): void;
  /**
   * Idempotent. No batch is delivered after close() returns. From start() until close()
   * the addon holds the object strongly (a started monitor is never collected).
   */
  close(): void;
  stats(): NativeMonitorStats;
  /** RTM_GETROUTE on a socket opened with the monitor's, in the same namespace. */
  lookup(query: NativeRouteQuery): ArrayBuffer;
  /**
   * Many RTM_GETROUTE at once: `queries` is packed records (src/netlink/query-format.ts);
   * returns one record per query, in order: kRouteNew, or kLookupError (errno, code,
   * message). Throws TypeError/RangeError for a malformed buffer, naming the query.
   */
  lookupMany(queries: Uint8Array): ArrayBuffer;
}

export interface NativeRouteQuery {
  family: 4 | 6;
  /** 16 bytes; IPv4 in the first 4. */
  to: Uint8Array;
  from?: Uint8Array;
  oif?: number;
  iif?: number;
  mark?: number;
  uid?: number;
}

export interface NativeRouteLookup {
  /**
   * Returns one route record (kRouteNew) in an ArrayBuffer, or throws an Error with
   * `errno` (positive), `code` ("ENETUNREACH", ...) and `extack` (the kernel's
   * extended-ack message, when it sent one).
   */
  get(query: NativeRouteQuery): ArrayBuffer;
  /** As NativeMonitor.lookupMany. */
  getMany(queries: Uint8Array): ArrayBuffer;
  close(): void;
}

/** Errors thrown by the addon carry these. */
export interface NativeError extends Error {
  errno?: number;
  code?: string;
  syscall?: string;
  extack?: string;
}

/** What one routeJson() call wrote (see NativeBinding.routeJson). */
export interface RouteJsonChunk {
  written: number;
  next: number;
  needed: number;
}

export interface NativeBinding {
  Monitor: new (
    options: NativeMonitorOptions,
    onBatch: (batch: ArrayBuffer, byteLength: number) => void,
  ) => NativeMonitor;
  RouteLookup: new (options: { netns?: string }) => NativeRouteLookup;
  /** Parses raw netlink datagram bytes with the same parser the socket uses (tests, tools). */
  parse(datagram: Uint8Array): ArrayBuffer;
  /**
   * The dumped routes (RouteNew records flagged FROM_DUMP) among a batch's first
   * `byteLength` bytes of records, from the record at `fromByte` on, each as `,` + the
   * JSON text of its Route (native/route_json.h), written into `out` until the next
   * route might not fit. `next`: where to go on (`byteLength` when done); `needed` more
   * than out.length: the next route needs a larger `out`. Throws on a malformed batch.
   */
  routeJson(batch: ArrayBuffer, byteLength: number, fromByte: number, out: Uint8Array): RouteJsonChunk;
  /**
   * getsockopt(TCP_INFO) on every descriptor in one call: `fds.length * TCP_INFO_FIELDS`
   * doubles in the order of native/tcp_info.h (errno first; NaN for a field the kernel
   * did not fill or a socket that could not be read).
   */
  tcpInfo(fds: Int32Array): ArrayBuffer;
  /**
   * Reads SO_KEEPALIVE, TCP_KEEPIDLE (s), TCP_KEEPINTVL (s), TCP_KEEPCNT, TCP_USER_TIMEOUT (ms)
   * as [errno, ...those five], then applies `set` (same five; -1 leaves one as it is).
   */
  tcpKeepalive(fd: number, set?: Int32Array): Int32Array;
}
