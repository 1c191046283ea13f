/**
 * The kernel's view of a tracked connection: struct tcp_info read through the
 * socket's descriptor (getsockopt TCP_INFO). Any number of sockets are read in one
 * addon call that fills one Float64Array, so sampling 10,000 connections costs one
 * crossing, not one per field or per socket.
 *
 * The descriptor comes from Node's handle (`socket._handle.fd`; a TLSSocket's
 * TLSWrap reports the fd of the TCP handle under it, a ws connection is read
 * through its `_socket`). When there is none the answer is a reason, never an
 * exception: a socket sent to a child process (Node closes it here: no handle), a
 * TLS socket over a JS stream (its handle has fd -1), a Unix-domain socket (not TCP).
 */
import { getSystemErrorName } from 'node:util';
import type { Socket } from 'node:net';
import { loadBinding } from '../native/binding';
import type { NativeBinding } from '../native/binding-types';
import { transportOf, type GuardableConnection } from './socket-path';

/** Slots of one socket's sample, as native/tcp_info.h writes them. */
const F = {
  errno: 0,
  state: 1,
  retransmits: 2,
  backoff: 3,
  unacked: 4,
  lost: 5,
  lastDataSent: 6,
  lastDataRecv: 7,
  lastAckRecv: 8,
  rtt: 9,
  rttVar: 10,
  totalRetrans: 11,
  bytesAcked: 12,
  bytesReceived: 13,
  dataSegsIn: 14,
  delivered: 15,
} as const;
export const TCP_INFO_FIELDS = 16;

/** include/net/tcp_states.h */
const TCP_STATES = [
  'unknown', 'established', 'syn-sent', 'syn-recv', 'fin-wait1', 'fin-wait2', 'time-wait',
  'close', 'close-wait', 'last-ack', 'listen', 'closing', 'new-syn-recv',
] as const;
export type TcpStateName = (typeof TCP_STATES)[number];

/** struct tcp_info, the fields routeguard uses. Times are as the kernel counts them. */
export interface TcpInfo {
  state: TcpStateName;
  /** Retransmissions of the segment at the head of the queue (resets when it is ACKed). */
  retransmits: number;
  /** RTO backoff exponent: grows with each timeout while nothing is ACKed. */
  backoff: number;
  /** Segments in flight. */
  unacked: number;
  /** Segments believed lost. */
  lost: number;
  /** Milliseconds since the last data segment sent / received, and since the last ACK received. */
  lastDataSentMs: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
  /** Smoothed round-trip time and its variance, microseconds. */
  rttUs: number;
  rttVarUs: number;
  /** Retransmissions over the connection's life. */
  totalRetrans: number;
  /** Bytes the peer acknowledged / bytes received in order (Linux 4.1+; null when older). */
  bytesAcked: number | null;
  bytesReceived: number | null;
  /** Data segments received (Linux 4.6+). */
  dataSegsIn: number | null;
  /** Segments delivered to the peer, retransmissions included (Linux 4.10+). */
  delivered: number | null;
}

/**
 * Why no TcpInfo could be had:
 * - 'no-socket': a ws connection before its upgrade or after it ended;
 * - 'closed': the socket is destroyed or was sent to a child process (no handle here),
 *   or its descriptor is gone (EBADF);
 * - 'no-descriptor': the handle has no fd: a TLS socket over a JS stream (a Duplex);
 * - 'not-tcp': the fd is not a TCP socket (a Unix-domain socket, a pipe);
 * - 'addon-unavailable': the native addon could not be loaded;
 * - otherwise the errno name getsockopt failed with.
 */
export type TcpInfoUnavailable = 'no-socket' | 'closed' | 'no-descriptor' | 'not-tcp' | 'addon-unavailable' | (string & {});

export type TcpInfoResult = { ok: true; info: TcpInfo } | { ok: false; reason: TcpInfoUnavailable };

interface HandleLike {
  fd?: number;
}

/** The TCP descriptor under a connection, or why there is none. */
export function socketFd(conn: GuardableConnection): { fd: number } | { fd: null; reason: TcpInfoUnavailable } {
  const socket = transportOf(conn);
  if (!socket) return { fd: null, reason: 'no-socket' };
  if (socket.destroyed) return { fd: null, reason: 'closed' };
  const own = (socket as Socket & { _handle?: HandleLike | null })._handle;
  if (!own) return { fd: null, reason: 'closed' };
  if (typeof own.fd === 'number' && own.fd >= 0) return { fd: own.fd };
  // A TLS socket wrapped around a socket the application made: the fd is the parent's.
  const parent = (socket as Socket & { _parent?: { _handle?: HandleLike | null } | null })._parent;
  const fd = parent?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? { fd } : { fd: null, reason: 'no-descriptor' };
}

function optional(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

function reasonOf(errno: number): TcpInfoUnavailable {
  switch (errno) {
    case 9: // EBADF
      return 'closed';
    case 88: // ENOTSOCK
    case 92: // ENOPROTOOPT
    case 95: // EOPNOTSUPP: a Unix-domain socket answers TCP_INFO with this
      return 'not-tcp';
    default:
      try {
        return getSystemErrorName(-errno);
      } catch {
        return `errno ${errno}`;
      }
  }
}

/** Decodes the `index`-th sample of a buffer the addon filled. */
export function decodeTcpInfo(samples: Float64Array, index: number): TcpInfoResult {
  const b = index * TCP_INFO_FIELDS;
  if (b + TCP_INFO_FIELDS > samples.length) throw new RangeError(`decodeTcpInfo: no sample ${index} in ${samples.length / TCP_INFO_FIELDS}`);
  const errno = samples[b + F.errno];
  if (errno !== 0) return { ok: false, reason: reasonOf(errno) };
  const state = samples[b + F.state];
  return {
    ok: true,
    info: {
      state: TCP_STATES[state] ?? 'unknown',
      retransmits: samples[b + F.retransmits],
      backoff: samples[b + F.backoff],
      unacked: samples[b + F.unacked],
      lost: samples[b + F.lost],
      lastDataSentMs: samples[b + F.lastDataSent],
      lastDataRecvMs: samples[b + F.lastDataRecv],
      lastAckRecvMs: samples[b + F.lastAckRecv],
      rttUs: samples[b + F.rtt],
      rttVarUs: samples[b + F.rttVar],
      totalRetrans: samples[b + F.totalRetrans],
      bytesAcked: optional(samples[b + F.bytesAcked]),
      bytesReceived: optional(samples[b + F.bytesReceived]),
      dataSegsIn: optional(samples[b + F.dataSegsIn]),
      delivered: optional(samples[b + F.delivered]),
    },
  };
}

function bindingOrNull(): NativeBinding | null {
  try {
    return loadBinding();
  } catch {
    return null;
  }
}

/** Reads tcp_info of every connection in one addon call. Never throws. */
export function readTcpInfo(connections: readonly GuardableConnection[]): TcpInfoResult[] {
  const out: TcpInfoResult[] = new Array(connections.length);
  const fds: number[] = [];
  const slots: number[] = [];
  connections.forEach((c, i) => {
    const r = socketFd(c);
    if (r.fd === null) out[i] = { ok: false, reason: r.reason };
    else {
      fds.push(r.fd);
      slots.push(i);
    }
  });
  if (fds.length === 0) return out;
  const binding = bindingOrNull();
  if (!binding) {
    for (const i of slots) out[i] = { ok: false, reason: 'addon-unavailable' };
    return out;
  }
  const samples = new Float64Array(binding.tcpInfo(Int32Array.from(fds)));
  slots.forEach((slot, k) => (out[slot] = decodeTcpInfo(samples, k)));
  return out;
}
