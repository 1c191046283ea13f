/**
 * The mirror's dump bookkeeping: the generation each object kind's dump stamps,
 * which dumps finished (only those vouch for absence), whether the initial sync is
 * done, and the differences a resync found. Every object event goes out through
 * report(), which keeps the initial sync silent and counts a resync's differences.
 */
import type { NetworkEvent, SyncedEvent } from '../netlink/types';

export type ResyncReason = 'overflow' | 'lost' | 'incomplete' | 'requested' | 'confirm';

/** What the monitor learns from a batch besides object events. */
export interface ApplyHooks {
  emit(event: NetworkEvent): void;
  /** A link went up/down, lost carrier, or vanished: the kernel may have changed routes silently. */
  silentChangesPossible(): void;
  /** Events were lost (ENOBUFS, or a notification cut or malformed): the addon is resyncing. */
  overflow(count: number): void;
  /** A dump kept being interrupted by concurrent changes and was given up for now. */
  dumpIncomplete(object: string, attempts: number): void;
  error(errno: number, message: string): void;
}

/** Object counts announced with 'synced'. */
export type MirrorCounts = Omit<SyncedEvent, 'type' | 'time'>;

const OBJECT_COUNT = 7;

export class SyncLedger {
  /** Current dump generation per DumpObject; live events are stamped with it too. */
  readonly gen = new Uint32Array(OBJECT_COUNT);
  private generation = 0;
  private readonly dumping = new Set<number>();
  private readonly complete = new Set<number>();
  /** The initial sync is done: object events are reported from now on. */
  initialDone = false;
  /** Why the next resync happens (for the 'resync' notice). */
  pendingResyncReason: ResyncReason = 'requested';
  private diff = { added: 0, changed: 0, removed: 0 };

  /** kDumpBegin: a new generation for the object's dump. */
  beginDump(obj: number): void {
    this.dumping.add(obj);
    this.complete.delete(obj);
    this.gen[obj] = ++this.generation;
  }

  /** kDumpEnd. */
  endDump(obj: number): void {
    // Only a finished dump vouches for absence: an interrupted one is retried
    // (kDumpBegin again) and a failed one (kError) must not delete anything.
    if (this.dumping.has(obj)) this.complete.add(obj);
  }

  /** The objects whose dump finished since the last sync. */
  completedDumps(): ReadonlySet<number> {
    return this.complete;
  }

  /** Emits an object event unless the initial sync is still silent; counts resync differences. */
  report(event: NetworkEvent, fromDump: boolean, hooks: ApplyHooks): void {
    if (!this.initialDone) return;
    if (fromDump && event.type !== 'synced' && event.type !== 'resync' && event.type !== 'dropped') {
      this.diff[event.action]++;
    }
    hooks.emit(event);
  }

  /** kSynced, after the sweep: 'synced' the first time (with the counts), then 'resync' with the differences. */
  finish(time: number, hooks: ApplyHooks, counts: () => MirrorCounts): void {
    this.dumping.clear();
    this.complete.clear();
    if (!this.initialDone) {
      this.initialDone = true;
      hooks.emit({ type: 'synced', ...counts(), time });
    } else {
      hooks.emit({ type: 'resync', reason: this.pendingResyncReason, ...this.diff, time });
    }
    this.diff = { added: 0, changed: 0, removed: 0 };
    this.pendingResyncReason = 'requested';
  }
}
