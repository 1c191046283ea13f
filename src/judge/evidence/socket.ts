/**
 * Socket evidence: what a connection's own TCP state (tcp_info, sampled by the
 * connection guard) says about its path while the path is suspect or judged gone.
 * It only ever speaks for life: an ACK or data that arrived after the evidence
 * began shows the path works for that connection. It never speaks for death —
 * churn (an address absent for 2 s, a carrier flap) makes TCP retransmit and back
 * off exactly as a real loss does (see rules.ts, connectionOnGone).
 *
 * The shape is the judge's own: connections/ passes plain samples in, so the judge
 * does not depend on the connections layer.
 */

/** One tcp_info sample, on the judge's clock. */
export interface SocketSample {
  /** Clock time taken just before the kernel was asked (ms). */
  time: number;
  /** TCP state name ('established', ...). */
  state: string;
  /** Milliseconds since the last ACK / data segment arrived, as the kernel counts them. */
  lastAckRecvMs: number;
  lastDataRecvMs: number;
  /** Smoothed RTT and its variance, microseconds. */
  rttUs: number;
  rttVarUs: number;
  /** Cumulative byte counts (null on kernels before 4.1). */
  bytesAcked: number | null;
  bytesReceived: number | null;
}

/** The finding: the connection heard from its peer after the evidence began. */
export interface ProofOfLife {
  kind: 'proof-of-life';
  /** Clock time the latest ACK or data arrived (ms). */
  heardAt: number;
  /** Bytes the peer acknowledged / bytes received since the baseline sample (0 without one). */
  ackedBytes: number;
  receivedBytes: number;
}

/**
 * last_ack_recv / last_data_recv are jiffies since rcv_tstamp / lrcvtime converted
 * to ms and truncated: an arrival can look up to one jiffy (10 ms at HZ=100) later
 * than it was.
 */
const JIFFY_SLACK_MS = 10;

/** States in which the peer's segments are still being received. */
const RECEIVING = new Set(['established', 'fin-wait1', 'fin-wait2', 'close-wait']);

/**
 * Proof of life, or null. `since` is when the path's evidence began; `baseline` is a
 * sample taken at or before that (for the byte counts), null when none was taken.
 * An arrival counts only if it came later than `since` plus one retransmission
 * timeout's worth of RTT (srtt + 4 rttvar): ACKs for segments sent before a break
 * can still arrive up to about one round trip after it.
 */
export function proofOfLife(baseline: SocketSample | null, sample: SocketSample, since: number): ProofOfLife | null {
  if (!RECEIVING.has(sample.state)) return null;
  const heardAt = sample.time - Math.min(sample.lastAckRecvMs, sample.lastDataRecvMs);
  const inFlightMs = (sample.rttUs + 4 * sample.rttVarUs) / 1000;
  if (heardAt <= since + JIFFY_SLACK_MS + inFlightMs) return null;
  const grew = (a: number | null | undefined, b: number | null) => (a != null && b != null ? Math.max(0, b - a) : 0);
  return {
    kind: 'proof-of-life',
    heardAt,
    ackedBytes: grew(baseline?.bytesAcked, sample.bytesAcked),
    receivedBytes: grew(baseline?.bytesReceived, sample.bytesReceived),
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** "acked 3.2 KiB at +1.4 s" — relative to the start of the evidence. */
export function describeProof(p: ProofOfLife, since: number): string {
  const parts: string[] = [];
  if (p.ackedBytes > 0) parts.push(`acked ${formatBytes(p.ackedBytes)}`);
  if (p.receivedBytes > 0) parts.push(`received ${formatBytes(p.receivedBytes)}`);
  const what = parts.length > 0 ? parts.join(', ') : 'ACK received';
  return `${what} at +${((p.heardAt - since) / 1000).toFixed(1)} s`;
}
