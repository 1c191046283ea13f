/**
 * A test double of PathJudge for pure-logic tests of the connection layer: it
 * hands out watches and lets the test say what the verdict is. The namespace
 * tests use the real judge on a real NetlinkMonitor instead.
 */
import { EventEmitter } from 'node:events';
import { normalizePathSpec } from '../../src/judge/path-spec';
import type {
  ChangedInfo,
  EvidenceEntry,
  GoneInfo,
  PathRoute,
  PathSpec,
  PathState,
  PathWatch,
  PathWatchEvents,
  RecoveredInfo,
  SuspectInfo,
  VerdictReason,
} from '../../src/judge/types';

export class FakeWatch extends EventEmitter<PathWatchEvents> implements PathWatch {
  state: PathState = 'viable';
  reason: VerdictReason | null = null;
  evidence: readonly EvidenceEntry[] = [];
  route: PathRoute | null = null;
  closed = false;

  constructor(
    readonly path: Readonly<PathSpec>,
    private readonly onClose: (w: FakeWatch) => void,
  ) {
    super();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}

export class FakeJudge {
  /** Open watches by path key. */
  readonly watches = new Map<string, FakeWatch[]>();
  /** Every watch() call, in order. */
  readonly calls: PathSpec[] = [];

  watch(spec: PathSpec): PathWatch {
    const path = normalizePathSpec(spec);
    this.calls.push(path.spec);
    const w = new FakeWatch(path.spec, (closed) => {
      const list = (this.watches.get(path.key) ?? []).filter((x) => x !== closed);
      if (list.length) this.watches.set(path.key, list);
      else this.watches.delete(path.key);
    });
    this.watches.set(path.key, [...(this.watches.get(path.key) ?? []), w]);
    return w;
  }

  /** Open watches of the path with local address `local` (and `remote` if given). */
  watchesOf(local: string, remote?: string): FakeWatch[] {
    return [...this.watches.values()].flat().filter((w) => w.path.local === local && (!remote || w.path.remote === remote));
  }

  private each(local: string, fn: (w: FakeWatch) => void): number {
    const list = this.watchesOf(local);
    for (const w of list) fn(w);
    return list.length;
  }

  suspect(local: string, reason: VerdictReason = 'local-address-removed'): number {
    const info: SuspectInfo = { reason, deadline: Date.now() + 3000, evidence: [] };
    return this.each(local, (w) => {
      w.state = 'suspect';
      w.reason = reason;
      w.emit('suspect', info);
    });
  }

  recover(local: string, reason: VerdictReason = 'local-address-removed'): number {
    const info: RecoveredInfo = { reason, suspectForMs: 100, evidence: [] };
    return this.each(local, (w) => {
      w.state = 'viable';
      w.reason = null;
      w.emit('recovered', info);
    });
  }

  change(local: string, info: ChangedInfo): number {
    return this.each(local, (w) => w.emit('changed', info));
  }

  gone(local: string, reason: VerdictReason = 'local-address-removed'): number {
    const evidence: EvidenceEntry[] = [{ time: Date.now(), kind: 'state', summary: `test: ${local} gone` }];
    const info: GoneInfo = { reason, evidence };
    return this.each(local, (w) => {
      w.state = 'gone';
      w.reason = reason;
      w.emit('gone', info);
    });
  }
}
