/**
 * One watched path's shared evaluation (state, suspect window, evidence, last
 * known route) and the handles watchers hold on it. The rules that move it
 * between states live in rules.ts; this file only keeps and reports.
 *
 * Both objects are kept small (a judge holds one per connection on a busy server):
 * no per-path strings, the timeline in one field, one handle without a set, and
 * handles that get their listener table on their first listener.
 */
import { EventEmitter } from 'node:events';
import { appendEntry, timelineAll, timelineSince, type Timeline } from './evidence-log';
import type { PathMemory } from './path-queries';
import type { CanonicalPath } from './path-spec';
import type { SuspectWindow } from './rules';
import type { DeadlineGroup, DeadlineMember } from './deadline-groups';
import type {
  EvidenceEntry,
  PathRoute,
  PathSpec,
  PathState,
  PathWatch,
  PathWatchEvents,
  VerdictReason,
} from './types';

/** What every evaluation of one judge shares. */
export interface EvaluationOwner {
  readonly evidenceLimit: number;
  /** The last handle of `ev` was closed. */
  released(ev: PathEvaluation): void;
  /** The judge owes `ev` its first check (it was watched and not checked yet): run it now. */
  settle(ev: PathEvaluation): void;
}

export class PathEvaluation implements PathMemory, DeadlineMember {
  state: PathState = 'viable';
  reason: VerdictReason | null = null;
  route: PathRoute | null = null;
  private openWindow: SuspectWindow | null = null;
  /**
   * The open window's reason and start, kept with it (see `window`). Getters reading
   * `window?.start` ran that load for the first time at the first deadline, and V8
   * deoptimized the checks that had inlined them.
   */
  private openReason: VerdictReason | null = null;
  private openedAt: number | null = null;
  /** Interface the local address was last seen on / output interface of the last good lookup. */
  addressIndex: number | null = null;
  egress: number | null = null;

  /** "oif|address" of the next hop at the last good check (neighbour index; interned). */
  nextHop: string | null = null;
  /** The address and egress interfaces the path is indexed under (with its ifindex and bound device). */
  indexedAddress: number | null = null;
  indexedEgress: number | null = null;
  /** Outcome of the last check (evidence records changes, not repeats); null before the first. */
  lastOk: boolean | null = null;
  /** Three booleans in one field (a judge holds 100k of these objects): see the accessors. */
  private bits = 0;
  /** The group of its window's deadline and its position there (deadline-groups.ts). */
  deadline: DeadlineGroup<DeadlineMember> | null = null;
  deadlineSlot = -1;
  /** Positions in the index's peer and local-address lists. */
  peerSlot = -1;
  localSlot = -1;
  /** Positions in the index's interface and next-hop lists (slot-lists.ts). */
  ifaceA = -1;
  slotA = -1;
  ifaceRest: number[] | null = null;
  nextHopSlot = -1;
  /** Position in the judge's suspect list (-1: not suspect). */
  suspectSlot = -1;
  /** The last pass that checked the path (Pass.checked). */
  checkedIn = 0;
  private timeline: Timeline = null;
  /** One handle (nearly always), or several. */
  private handles: WatchHandle | WatchHandle[] | null = null;

  constructor(
    readonly path: CanonicalPath,
    readonly owner: EvaluationOwner,
  ) {}

  /** At the last good check the local address belonged to the egress interface. */
  get sourceOnEgress(): boolean {
    return (this.bits & 1) !== 0;
  }
  set sourceOnEgress(v: boolean) {
    this.bits = v ? this.bits | 1 : this.bits & ~1;
  }

  /** At the last good check the next hop was a gateway, not the peer itself. */
  get viaGateway(): boolean {
    return (this.bits & 4) !== 0;
  }
  set viaGateway(v: boolean) {
    this.bits = v ? this.bits | 4 : this.bits & ~4;
  }

  /** The local address was still tentative at the last good check. */
  get tentative(): boolean {
    return (this.bits & 2) !== 0;
  }
  set tentative(v: boolean) {
    this.bits = v ? this.bits | 2 : this.bits & ~2;
  }

  get handleCount(): number {
    const h = this.handles;
    return h === null ? 0 : Array.isArray(h) ? h.length : 1;
  }

  attach(h: WatchHandle): void {
    const hs = this.handles;
    this.handles = hs === null ? h : Array.isArray(hs) ? [...hs, h] : [hs, h];
  }

  detach(h: WatchHandle): void {
    const hs = this.handles;
    if (!Array.isArray(hs)) {
      if (hs === h) this.handles = null;
      return;
    }
    const rest = hs.filter((x) => x !== h);
    this.handles = rest.length === 1 ? rest[0] : rest;
  }

  addEvidence(entry: EvidenceEntry): void {
    this.timeline = appendEntry(this.timeline, entry, this.owner.evidenceLimit);
  }

  allEvidence(): EvidenceEntry[] {
    return timelineAll(this.timeline, this.owner.evidenceLimit);
  }

  evidenceSince(time: number): EvidenceEntry[] {
    return timelineSince(this.timeline, time, this.owner.evidenceLimit);
  }

  windowEvidence(): readonly EvidenceEntry[] {
    return this.window ? this.evidenceSince(this.window.start) : this.allEvidence();
  }

  get window(): SuspectWindow | null {
    return this.openWindow;
  }
  set window(w: SuspectWindow | null) {
    this.openWindow = w;
    this.openReason = w === null ? null : w.reason;
    this.openedAt = w === null ? null : w.start;
  }

  /** Reason of the open suspect window (PathMemory: what the fresh check knows from before). */
  get windowReason(): VerdictReason | null {
    return this.openReason;
  }

  get windowStart(): number | null {
    return this.openedAt;
  }

  /**
   * Emits to every handle; a throwing listener does not keep the others from hearing.
   * Returns what listeners threw, or null (no array per path when a pass emits 10k verdicts).
   */
  emit<K extends keyof PathWatchEvents>(name: K, info: PathWatchEvents[K][0]): unknown[] | null {
    const hs = this.handles;
    if (hs === null) return null;
    if (!Array.isArray(hs)) return emitTo(hs, name, info, null);
    let errors: unknown[] | null = null;
    // The list is replaced, never changed in place (attach/detach), so a listener that
    // closes its handle or watches the path again does not disturb this loop.
    for (const h of hs) errors = emitTo(h, name, info, errors);
    return errors;
  }
}

type Listener = (info: unknown) => unknown;
/**
 * Node's emit, or null where this runtime keeps listeners otherwise than `_events` (one
 * function per name, then an array in call order): there every emission goes through it.
 */
const BASE_EMIT = knowsListenerTable() ? EventEmitter.prototype.emit : null;

function knowsListenerTable(): boolean {
  try {
    const e = new EventEmitter();
    const a = (): void => {};
    const b = (): void => {};
    const table = () => (e as unknown as { _events?: Record<string, unknown> })._events?.x;
    e.on('x', a);
    if (table() !== a) return false;
    e.on('x', b);
    const both = table();
    return Array.isArray(both) && both.length === 2 && both[0] === a && both[1] === b;
  } catch {
    return false;
  }
}

/**
 * EventEmitter.prototype.emit for one argument, for handles alone. Node's emit is one
 * function shared by every emitter of the process: after a pass of 10k 'suspect', the
 * first 10k 'gone' deoptimized it ('wrong map') and ran unoptimized, ~8 ms of a first
 * loss's ~31. Node's own emit still runs when it could differ: a handle whose emit was
 * replaced (also Node's, replaced after this module loaded, as the domain module does),
 * captureRejections (promise-returning listeners), a runtime whose listener table is not
 * Node's.
 * Like Node's, a listener list is copied first and a throw ends the handle's emission.
 */
function deliver(h: WatchHandle, name: string, info: unknown): void {
  // A null BASE_EMIT (a runtime with another listener table) never equals a handle's emit.
  if (h.emit !== BASE_EMIT || EventEmitter.captureRejections) {
    (h.emit as (n: string, info: unknown) => boolean)(name, info);
    return;
  }
  // Node keeps listeners in `_events`: undefined until the first one (see WatchHandle.open),
  // then one function per name or an array of them. Not rawListeners(), the public copy:
  // it allocates per emission and runs Node's shared helpers, and a first loss measured
  // slower with it (in memory, 20 interleaved runs: second loss median 30.5 -> 39.7 ms).
  const events = (h as unknown as { _events?: Record<string, Listener | Listener[] | undefined> })._events;
  if (events === undefined) return;
  const handler = events[name];
  if (handler === undefined) return;
  if (typeof handler === 'function') {
    handler.call(h, info);
    return;
  }
  const listeners = handler.slice();
  for (let i = 0; i < listeners.length; i++) listeners[i].call(h, info);
}

function emitTo(h: WatchHandle, name: string, info: unknown, errors: unknown[] | null): unknown[] | null {
  try {
    deliver(h, name, info);
  } catch (err) {
    (errors ??= []).push(err);
  }
  return errors;
}

interface ClosedView {
  readonly path: Readonly<PathSpec>;
  readonly state: PathState;
  readonly reason: VerdictReason | null;
  readonly route: PathRoute | null;
  readonly evidence: readonly EvidenceEntry[];
}

/**
 * What a watcher holds. Reads go to the shared evaluation until close(). Reading
 * the state of a path whose first check is still pending runs that check (with the
 * rest of the burst it came in).
 */
export class WatchHandle extends EventEmitter<PathWatchEvents> implements PathWatch {
  declare private evaluation: PathEvaluation | null;
  declare private closedView: ClosedView | null;

  /**
   * Opens a handle on `evaluation`. Handles are made without running EventEmitter's
   * constructor, which gives every emitter a listener table up front (~200 bytes);
   * EventEmitter's methods create it on the first listener (its `_events` is
   * undefined until then, the state `Object.create(EventEmitter.prototype)` has).
   */
  static open(evaluation: PathEvaluation): WatchHandle {
    const h = Object.create(WatchHandle.prototype) as WatchHandle;
    h.evaluation = evaluation;
    h.closedView = null;
    evaluation.attach(h);
    return h;
  }

  private current(): PathEvaluation | null {
    const ev = this.evaluation;
    if (ev && ev.lastOk === null) ev.owner.settle(ev);
    return this.evaluation;
  }

  get path(): Readonly<PathSpec> {
    return this.evaluation ? this.evaluation.path.spec : this.closedView!.path;
  }

  get state(): PathState {
    return this.current()?.state ?? this.closedView!.state;
  }

  get reason(): VerdictReason | null {
    const ev = this.current();
    return ev ? ev.reason : this.closedView!.reason;
  }

  get route(): PathRoute | null {
    const ev = this.current();
    return ev ? ev.route : this.closedView!.route;
  }

  get evidence(): readonly EvidenceEntry[] {
    const ev = this.current();
    return ev ? ev.allEvidence() : this.closedView!.evidence;
  }

  close(): void {
    const ev = this.evaluation;
    if (!ev) return;
    this.closedView = { path: ev.path.spec, state: ev.state, reason: ev.reason, route: ev.route, evidence: ev.allEvidence() };
    this.evaluation = null;
    ev.detach(this);
    ev.owner.released(ev);
  }
}
