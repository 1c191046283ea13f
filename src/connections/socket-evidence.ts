/**
 * The connection guard's socket evidence: while a path is suspect, its
 * connections' tcp_info is sampled (all suspect paths' sockets in one addon call,
 * on one timer that exists only while suspect paths do); the first sample is each
 * socket's baseline. When the path is judged gone, one last sample decides, per
 * connection, through the judge's rules (connectionOnGone): a socket that heard
 * from its peer after the evidence began is kept. Optionally, while a path is
 * suspect, TCP keepalive is tightened on its sockets so that idle ones get ACKs to
 * show (keepalive-probe.ts), and restored afterwards.
 */
import { describeProof, proofOfLife, type ProofOfLife, type SocketSample } from '../judge/evidence/socket';
import { connectionOnGone, type ConnectionDecision } from '../judge/rules';
import type { Clock, EvidenceEntry } from '../judge/types';
import { restoreKeepalive, tightenKeepalive, type KeepaliveSettings, type SavedKeepalive } from './keepalive-probe';
import { readTcpInfo, type TcpInfo } from './tcp-info';
import type { TrackedConnection } from './tracked-connection';

/** A path's connections, as the guard groups them. */
export interface SampledGroup {
  readonly members: ReadonlySet<TrackedConnection>;
}

export interface SocketEvidenceOptions {
  clock: Clock;
  /** How often suspect paths' sockets are sampled (ms). */
  sampleIntervalMs: number;
  /** Keepalive settings applied while a path is suspect; null: no probe. */
  probe: KeepaliveSettings | null;
}

export interface SocketEvidenceCounters {
  /** Sockets sampled (one per connection per sample). */
  samples: number;
  /** Samples that could not be had (no descriptor, not TCP, closed). */
  unavailable: number;
  /** Connections whose path was judged gone and that were kept on proof of life. */
  keptAlive: number;
  /** Sockets whose keepalive was tightened / restored, and attempts that failed. */
  probed: number;
  probesRestored: number;
  probeFailures: number;
}

export function toSample(info: TcpInfo, time: number): SocketSample {
  return {
    time,
    state: info.state,
    lastAckRecvMs: info.lastAckRecvMs,
    lastDataRecvMs: info.lastDataRecvMs,
    rttUs: info.rttUs,
    rttVarUs: info.rttVarUs,
    bytesAcked: info.bytesAcked,
    bytesReceived: info.bytesReceived,
  };
}

export class SocketEvidence {
  /** Suspect groups and when their evidence began. */
  private readonly windows = new Map<SampledGroup, number>();
  private readonly baselines = new Map<TrackedConnection, SocketSample>();
  /** Connections already shown alive in their current window (one timeline entry each). */
  private readonly shown = new Set<TrackedConnection>();
  private readonly saved = new Map<TrackedConnection, SavedKeepalive>();
  private timer: unknown = null;
  private readonly count: SocketEvidenceCounters = {
    samples: 0, unavailable: 0, keptAlive: 0, probed: 0, probesRestored: 0, probeFailures: 0,
  };

  constructor(private readonly options: SocketEvidenceOptions) {}

  counters(): SocketEvidenceCounters {
    return { ...this.count };
  }

  /** A path became suspect (or was watched while already suspect) at `since`. */
  suspect(group: SampledGroup, since: number): void {
    if (this.windows.has(group)) return;
    this.windows.set(group, since);
    if (this.options.probe) for (const m of group.members) this.probe(m);
    this.sample([group]);
    this.arm();
  }

  /** A connection joined a group that is suspect already. */
  joined(group: SampledGroup, member: TrackedConnection): void {
    if (!this.windows.has(group)) return;
    if (this.options.probe) this.probe(member);
  }

  /** The path recovered: its sockets are no longer sampled and their keepalive is put back. */
  recovered(group: SampledGroup): void {
    if (!this.windows.delete(group)) return;
    for (const m of group.members) this.forget(m, true);
    this.disarmIfIdle();
  }

  /**
   * The path is gone: one last sample of its sockets, and the rules' decision for
   * each. `fallbackSince` is the window's start as the verdict's evidence tells it
   * (used when the guard never saw the path suspect).
   */
  gone(group: SampledGroup, fallbackSince: number): Array<{ member: TrackedConnection; decision: ConnectionDecision; entry: EvidenceEntry | null }> {
    const since = this.windows.get(group) ?? fallbackSince;
    this.windows.delete(group);
    const members = [...group.members];
    const samples = this.read(members);
    const out = members.map((member, i) => {
      const s = samples[i];
      const proof = s ? proofOfLife(this.baselines.get(member) ?? null, s, since) : null;
      const decision = connectionOnGone(proof);
      // Kept connections rejoin a fresh watch of the path and stay probed; the others close.
      this.forget(member, false);
      if (decision.kind === 'close') this.saved.delete(member);
      else this.count.keptAlive++;
      return { member, decision, entry: proof ? this.entry(proof, since) : null };
    });
    this.disarmIfIdle();
    return out;
  }

  /** A connection left its group (closed, untracked, moved): stop sampling it and restore its probe. */
  left(member: TrackedConnection): void {
    this.forget(member, true);
  }

  /** A kept connection's new watch is viable: nothing to probe any more. */
  settled(member: TrackedConnection): void {
    this.forget(member, true);
  }

  close(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    for (const m of [...this.saved.keys()]) this.forget(m, true);
    this.windows.clear();
  }

  private entry(proof: ProofOfLife, since: number): EvidenceEntry {
    return { time: proof.heardAt, kind: 'socket', summary: describeProof(proof, since) };
  }

  private forget(member: TrackedConnection, restore: boolean): void {
    this.baselines.delete(member);
    this.shown.delete(member);
    const saved = this.saved.get(member);
    if (!saved) return;
    this.saved.delete(member);
    if (restore && restoreKeepalive(member.connection, saved)) this.count.probesRestored++;
  }

  private probe(member: TrackedConnection): void {
    if (this.saved.has(member) || !this.options.probe) return;
    const r = tightenKeepalive(member.connection, this.options.probe);
    if (r.ok) {
      this.saved.set(member, r.saved);
      this.count.probed++;
    } else {
      this.count.probeFailures++;
    }
  }

  /** One addon call for every member given; null where no sample could be had. */
  private read(members: TrackedConnection[]): Array<SocketSample | null> {
    const time = this.options.clock.now();
    const results = readTcpInfo(members.map((m) => m.connection));
    this.count.samples += members.length;
    return results.map((r) => {
      if (r.ok) return toSample(r.info, time);
      this.count.unavailable++;
      return null;
    });
  }

  /** Samples the groups' sockets: baselines first, then proof of life as it shows. */
  private sample(groups: Iterable<SampledGroup>): void {
    const members: TrackedConnection[] = [];
    const sinceOf: number[] = [];
    for (const g of groups) {
      const since = this.windows.get(g)!;
      for (const m of g.members) {
        members.push(m);
        sinceOf.push(since);
      }
    }
    if (members.length === 0) return;
    const samples = this.read(members);
    samples.forEach((s, i) => {
      const m = members[i];
      if (!s) return;
      const baseline = this.baselines.get(m);
      if (!baseline) {
        this.baselines.set(m, s);
        return;
      }
      if (this.shown.has(m)) return;
      const proof = proofOfLife(baseline, s, sinceOf[i]);
      if (!proof) return;
      this.shown.add(m);
      m.recordSocketEvidence(this.entry(proof, sinceOf[i]));
    });
  }

  private arm(): void {
    if (this.timer !== null || this.windows.size === 0) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      try {
        this.sample(this.windows.keys());
      } finally {
        this.arm();
      }
    }, this.options.sampleIntervalMs);
  }

  private disarmIfIdle(): void {
    if (this.windows.size > 0 || this.timer === null) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
