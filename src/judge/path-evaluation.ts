/**
 * One watched path's shared evaluation (state, suspect window, evidence, last
 * known route) and the handles watchers hold on it. The rules that move it
 * between states live in rules.ts; this file only keeps and reports.
 */
import { EventEmitter } from 'node:events';
import { EvidenceLog } from './evidence-log';
import type { PathMemory } from './path-queries';
import type { NormalizedPath } from './path-spec';
import type { SuspectWindow } from './rules';
import type { TimerEntry } from './timer-queue';
import type {
  EvidenceEntry,
  PathRoute,
  PathSpec,
  PathState,
  PathWatch,
  PathWatchEvents,
  VerdictReason,
} from './types';

export class PathEvaluation {
  readonly handles = new Set<WatchHandle>();
  readonly evidence: EvidenceLog;
  state: PathState = 'viable';
  reason: VerdictReason | null = null;
  route: PathRoute | null = null;
  window: SuspectWindow | null = null;
  /** Interface the local address was last seen on / output interface of the last good lookup. */
  addressIndex: number | null = null;
  egress: number | null = null;
  /** At the last good check the local address belonged to the egress interface. */
  sourceOnEgress = false;
  /** "oif|address" of the next hop at the last good check (neighbour index). */
  nextHop: string | null = null;
  /** Interfaces the path is indexed under. */
  interfaces: number[] = [];
  /** Outcome of the last check (evidence records changes, not repeats). */
  lastOk: boolean | null = null;
  /** The local address was still tentative at the last good check. */
  tentative = false;
  timer: TimerEntry<unknown> | null = null;

  constructor(
    readonly path: NormalizedPath,
    evidenceLimit: number,
  ) {
    this.evidence = new EvidenceLog(evidenceLimit);
  }

  /** What the fresh check needs to know from before. */
  memory(): PathMemory {
    return {
      addressIndex: this.addressIndex,
      egress: this.egress,
      sourceOnEgress: this.sourceOnEgress,
      nextHop: this.nextHop,
      windowReason: this.window?.reason ?? null,
      windowStart: this.window?.start ?? null,
    };
  }

  /** Interfaces whose events may affect the path. */
  wantedInterfaces(): number[] {
    const out: number[] = [];
    for (const i of [this.addressIndex, this.egress, this.path.ifindex, this.path.boundIfindex]) {
      if (i !== null && !out.includes(i)) out.push(i);
    }
    return out;
  }

  windowEvidence(): readonly EvidenceEntry[] {
    return this.window ? this.evidence.since(this.window.start) : this.evidence.all();
  }

  /** Emits to every handle; a throwing listener does not keep the others from hearing. */
  emit<K extends keyof PathWatchEvents>(name: K, ...args: PathWatchEvents[K]): unknown[] {
    const errors: unknown[] = [];
    for (const h of [...this.handles]) {
      try {
        (h.emit as (n: K, ...a: PathWatchEvents[K]) => boolean)(name, ...args);
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }
}

/** What a watcher holds. Reads go to the shared evaluation until close(). */
export class WatchHandle extends EventEmitter<PathWatchEvents> implements PathWatch {
  private evaluation: PathEvaluation | null;
  private last: { state: PathState; reason: VerdictReason | null; route: PathRoute | null; evidence: readonly EvidenceEntry[] } | null =
    null;

  constructor(
    evaluation: PathEvaluation,
    private readonly release: (handle: WatchHandle, evaluation: PathEvaluation) => void,
  ) {
    super();
    this.evaluation = evaluation;
    evaluation.handles.add(this);
  }

  get path(): Readonly<PathSpec> {
    return (this.evaluation?.path ?? this.closedPath!).spec;
  }

  private closedPath: NormalizedPath | null = null;

  get state(): PathState {
    return this.evaluation?.state ?? this.last!.state;
  }

  get reason(): VerdictReason | null {
    return this.evaluation ? this.evaluation.reason : this.last!.reason;
  }

  get route(): PathRoute | null {
    return this.evaluation ? this.evaluation.route : this.last!.route;
  }

  get evidence(): readonly EvidenceEntry[] {
    return this.evaluation ? this.evaluation.evidence.all() : this.last!.evidence;
  }

  close(): void {
    const ev = this.evaluation;
    if (!ev) return;
    this.last = { state: ev.state, reason: ev.reason, route: ev.route, evidence: ev.evidence.all() };
    this.closedPath = ev.path;
    this.evaluation = null;
    ev.handles.delete(this);
    this.release(this, ev);
  }
}
