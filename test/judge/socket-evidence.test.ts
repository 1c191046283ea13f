/**
 * Socket evidence as the judge's rules see it (pure, no clock but the numbers):
 * when a tcp_info sample is proof of life, how it is described, and the
 * per-connection decision when a path is gone.
 */
import { describe, expect, it } from 'vitest';
import { describeProof, formatBytes, proofOfLife, type SocketSample } from '../../src/judge/evidence/socket';
import { connectionOnGone } from '../../src/judge/rules';

const START = 1_000_000; // the evidence began here (ms, judge clock)

function sample(over: Partial<SocketSample>): SocketSample {
  return {
    time: START + 2000,
    state: 'established',
    lastAckRecvMs: 60_000,
    lastDataRecvMs: 60_000,
    rttUs: 200,
    rttVarUs: 100,
    bytesAcked: 10_000,
    bytesReceived: 5_000,
    ...over,
  };
}

describe('proofOfLife', () => {
  it('an ACK after the evidence began is proof; the bytes count from the baseline', () => {
    const baseline = sample({ time: START, lastAckRecvMs: 5 });
    const p = proofOfLife(baseline, sample({ lastAckRecvMs: 600, bytesAcked: 10_000 + 3277 }), START);
    expect(p).toEqual({ kind: 'proof-of-life', heardAt: START + 1400, ackedBytes: 3277, receivedBytes: 0 });
    expect(describeProof(p!, START)).toBe('acked 3.2 KiB at +1.4 s');
  });

  it('data received counts as well as ACKs (the earlier of the two ages wins)', () => {
    const p = proofOfLife(sample({ time: START }), sample({ lastDataRecvMs: 100, bytesReceived: 5_000 + 2048 }), START);
    expect(p?.heardAt).toBe(START + 1900);
    expect(describeProof(p!, START)).toBe('received 2.0 KiB at +1.9 s');
  });

  it('nothing heard since the evidence began is no proof, however busy the socket was before', () => {
    expect(proofOfLife(sample({ time: START }), sample({ lastAckRecvMs: 2500, lastDataRecvMs: 2100 }), START)).toBeNull();
  });

  it('an arrival within a jiffy and one RTO of the start is no proof (ACKs of segments sent before the break)', () => {
    // heard at +9 ms: inside the 10 ms jiffy slack
    expect(proofOfLife(null, sample({ lastAckRecvMs: 1991 }), START)).toBeNull();
    // heard at +40 ms with srtt 20 ms + 4 x rttvar 5 ms = 40 ms of flight: not yet
    expect(proofOfLife(null, sample({ lastAckRecvMs: 1960, rttUs: 20_000, rttVarUs: 5_000 }), START)).toBeNull();
    expect(proofOfLife(null, sample({ lastAckRecvMs: 1940, rttUs: 20_000, rttVarUs: 5_000 }), START)).not.toBeNull();
  });

  it('without a baseline an ACK still proves life (a keepalive reply), with no byte count', () => {
    const p = proofOfLife(null, sample({ lastAckRecvMs: 300 }), START);
    expect(p).toMatchObject({ ackedBytes: 0, receivedBytes: 0 });
    expect(describeProof(p!, START)).toBe('ACK received at +1.7 s');
  });

  it('a socket that is no longer receiving (closed, listening, time-wait) proves nothing', () => {
    for (const state of ['close', 'time-wait', 'last-ack', 'syn-sent']) {
      expect(proofOfLife(null, sample({ state, lastAckRecvMs: 0 }), START)).toBeNull();
    }
    expect(proofOfLife(null, sample({ state: 'close-wait', lastAckRecvMs: 0 }), START)).not.toBeNull();
  });

  it('byte counts the kernel does not give (before 4.1) count as 0', () => {
    const p = proofOfLife(sample({ bytesAcked: null }), sample({ lastAckRecvMs: 0, bytesAcked: null, bytesReceived: null }), START);
    expect(p).toMatchObject({ ackedBytes: 0, receivedBytes: 0 });
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(5 * 1024 * 1024 + 1)).toBe('5.0 MiB');
  });
});

describe('connectionOnGone', () => {
  it('keeps a connection with proof of life and closes one without', () => {
    const proof = { kind: 'proof-of-life' as const, heardAt: START + 1, ackedBytes: 1, receivedBytes: 0 };
    expect(connectionOnGone(proof)).toEqual({ kind: 'keep', proof });
    expect(connectionOnGone(null)).toEqual({ kind: 'close' });
  });
});
