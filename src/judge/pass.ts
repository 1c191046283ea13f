/**
 * One event or timer batch of the judge: kernel lookups memoised, interface-level
 * facts computed once, each path checked once, and the notifications held until
 * the batch is done (a listener never runs in the middle of a pass).
 */
import type { NetworkEvent, RouteQuery } from '../netlink/types';
import type { RouteLookupResult } from '../netlink/view';
import type { PathEvaluation } from './path-evaluation';
import { boundQuery, unboundQuery } from './path-queries';
import type { CanonicalPath } from './path-spec';
import { TupleMemo } from './tuple-memo';
import type { EvidenceEntry } from './types';

/** A lookup threw (the source was closed or failed): the pass stops and the judge ends. */
export class SourceFailure extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

/**
 * The lookups a prefetch needs, as parallel lists (no object per lookup: a burst asks
 * 110k): lookup i is path i's own (`bound[i]`, from its local address) or a new
 * connection's to its peer.
 */
export interface LookupWants {
  readonly paths: readonly CanonicalPath[];
  readonly bound: readonly boolean[];
}

/** Asks the kernel one lookup (the pass's environment; one object for the pass, not a closure per call). */
export interface RouteAsker {
  ask(query: RouteQuery): RouteLookupResult;
}

export function queryKey(q: RouteQuery): string {
  return `${q.to}|${q.from ?? ''}|${q.oif ?? ''}|${q.mark ?? ''}`;
}

let passes = 0;

type NotificationName = 'suspect' | 'recovered' | 'gone' | 'changed';

interface LastEntry {
  a: unknown;
  b: unknown;
  c: unknown;
  d: unknown;
  entry: EvidenceEntry;
}

export class Pass {
  /** Stamped on the evaluations this pass checks (a field compare instead of a set of 100k paths). */
  private readonly id = ++passes;
  private readonly lookups = new Map<string, RouteLookupResult>();
  /** A plain path's own lookup, by path; a new connection's to a peer, by the peer's atom: no key strings. */
  private readonly boundAnswers = new Map<CanonicalPath, RouteLookupResult>();
  private readonly peerAnswers = new Map<object, RouteLookupResult>();
  private readonly facts = new TupleMemo();
  /** Events to emit once the pass is done, as parallel lists (no closure per path). */
  private readonly notified: PathEvaluation[] = [];
  private readonly notifiedNames: NotificationName[] = [];
  private readonly notifiedInfos: unknown[] = [];
  /** Per entry name, the last keys asked and their entry (a deadline pass asks the same ones 10k times). */
  private readonly lastEntries = new Map<string, LastEntry>();
  /** Evaluations found gone: dropped from the indexes once their watchers have heard. */
  readonly gone: PathEvaluation[] = [];
  private entry: EvidenceEntry | null = null;
  /** The entry sharedEntry() gave last. */
  private lastShared: EvidenceEntry | null = null;
  /** The check environment of this pass, made once by the judge. */
  env: unknown = null;

  constructor(
    readonly now: number,
    private readonly describe: (() => string) | null = null,
    private readonly event?: NetworkEvent,
  ) {}

  /** Whether `ev` was checked in this pass. */
  checked(ev: PathEvaluation): boolean {
    return ev.checkedIn === this.id;
  }

  markChecked(ev: PathEvaluation): void {
    ev.checkedIn = this.id;
  }

  /** The evidence entry of the event being handled, built once and shared by every path it touches. */
  eventEntry(): EvidenceEntry | null {
    if (!this.describe) return null;
    this.entry ??= { time: this.now, kind: 'event', summary: this.describe(), event: this.event };
    return this.entry;
  }

  /** An entry of this pass with this kind and text, shared by every path that records it (entries are immutable). */
  sharedEntry(kind: EvidenceEntry['kind'], summary: string): EvidenceEntry {
    // The last one first: the paths of a pass come in runs with one text (a lost address's 10k).
    const last = this.lastShared;
    if (last !== null && last.summary === summary && last.kind === kind) return last;
    return (this.lastShared = this.memo5('entry', kind, summary, null, null, null, makeEntry, this.now, kind, summary));
  }

  /**
   * An entry shared by every path whose text `make(a, b, c, d)` makes from the same
   * keys (e.g. a reason and a duration); `name` names the entry (one name, one kind).
   * `make` is a plain function, so a hit allocates nothing.
   */
  entryFor<A, B, C, D>(
    kind: EvidenceEntry['kind'],
    name: string,
    make: (a: A, b: B, c: C, d: D) => string,
    a: A,
    b: B,
    c: C,
    d: D,
  ): EvidenceEntry {
    const last = this.lastEntries.get(name);
    if (last && last.a === a && last.b === b && last.c === c && last.d === d) return last.entry;
    return this.newEntryFor(last, kind, name, make, a, b, c, d);
  }

  /** entryFor()'s miss, on its own: its closure's context would be allocated at every call, hit or not. */
  private newEntryFor<A, B, C, D>(last: LastEntry | undefined, kind: EvidenceEntry['kind'], name: string, make: (a: A, b: B, c: C, d: D) => string, a: A, b: B, c: C, d: D): EvidenceEntry {
    const entry = this.memo([name, a, b, c, d], () => ({ time: this.now, kind, summary: make(a, b, c, d) }));
    if (last) {
      last.a = a;
      last.b = b;
      last.c = c;
      last.d = d;
      last.entry = entry;
    } else {
      this.lastEntries.set(name, { a, b, c, d, entry });
    }
    return entry;
  }

  /** Queues `name` for `ev`'s watchers, emitted when the pass is done. */
  notify(ev: PathEvaluation, name: NotificationName, info: unknown): void {
    this.notified.push(ev);
    this.notifiedNames.push(name);
    this.notifiedInfos.push(info);
  }

  /** Emits the queued notifications in order; `report` gets what listeners threw. */
  emitNotifications(report: (errors: unknown[]) => void): void {
    for (let i = 0; i < this.notified.length; i++) {
      const errors = (this.notified[i].emit as (n: string, info: unknown) => unknown[] | null)(this.notifiedNames[i], this.notifiedInfos[i]);
      if (errors !== null) report(errors);
    }
  }

  /**
   * Asks the not yet answered lookups of these paths (their own and a new
   * connection's) at once: a burst of new watches, whose checks then find them here.
   */
  prefetch(
    paths: readonly CanonicalPath[],
    askMany: (wants: LookupWants) => RouteLookupResult[],
    /** Whether the path's own lookup will be asked (its address is present). */
    ownLookup: (path: CanonicalPath) => boolean,
    /** Whether a new connection's lookup to the path's peer is still to be asked. */
    peerLookup: (path: CanonicalPath) => boolean,
  ): void {
    const wantedPaths: CanonicalPath[] = [];
    const wantedBound: boolean[] = [];
    // Where each answer goes, as parallel lists (no closure per query: a burst asks 110k).
    const stores: Array<Map<unknown, RouteLookupResult>> = [];
    const keys: unknown[] = [];
    const peersAsked = new Set<object>();
    const keysAsked = new Set<string>();
    const want = (path: CanonicalPath, bound: boolean) => {
      let store: Map<unknown, RouteLookupResult>;
      let key: unknown;
      if (path.plain) {
        const atom = bound ? path : path.remoteAtom;
        store = bound ? this.boundAnswers : this.peerAnswers;
        if (store.has(atom) || (!bound && peersAsked.has(atom))) return;
        if (!bound) peersAsked.add(atom);
        key = atom;
      } else {
        const text = queryKey(bound ? boundQuery(path) : unboundQuery(path));
        store = this.lookups;
        if (store.has(text) || keysAsked.has(text)) return;
        keysAsked.add(text);
        key = text;
      }
      stores.push(store);
      keys.push(key);
      wantedPaths.push(path);
      wantedBound.push(bound);
    };
    for (const path of paths) {
      const own = ownLookup(path);
      if (own) want(path, true);
      if (own || peerLookup(path)) want(path, false);
    }
    if (wantedPaths.length === 0) return;
    let answers: RouteLookupResult[];
    try {
      answers = askMany({ paths: wantedPaths, bound: wantedBound });
    } catch (err) {
      throw new SourceFailure(err);
    }
    for (let i = 0; i < stores.length; i++) stores[i].set(keys[i], answers[i]);
  }

  /**
   * The path's own lookup (`bound`: a path is checked once per pass, so it is kept only
   * from a prefetch until that check) or a new connection's to its peer (kept for the pass).
   */
  lookupPath(path: CanonicalPath, bound: boolean, asker: RouteAsker): RouteLookupResult {
    if (!path.plain) return this.lookup(bound ? boundQuery(path) : unboundQuery(path), asker);
    const key = bound ? path : path.remoteAtom;
    const answers: Map<object, RouteLookupResult> = bound ? this.boundAnswers : this.peerAnswers;
    let r = answers.get(key);
    // A path's own answer serves its one check: let it go (a new connection's serves every path to the peer).
    if (r && bound) answers.delete(key);
    if (!r) {
      try {
        r = asker.ask(bound ? boundQuery(path) : unboundQuery(path));
      } catch (err) {
        throw new SourceFailure(err);
      }
      if (!bound) answers.set(key, r);
    }
    return r;
  }

  /** The kernel's answer to `q`, asked once per pass; a throwing source becomes SourceFailure. */
  lookup(q: RouteQuery, asker: RouteAsker): RouteLookupResult {
    const key = queryKey(q);
    let r = this.lookups.get(key);
    if (!r) {
      try {
        r = asker.ask(q);
      } catch (err) {
        throw new SourceFailure(err);
      }
      this.lookups.set(key, r);
    }
    return r;
  }

  /** Caches a fact for the rest of the pass under a tuple of keys (see TupleMemo). */
  memo<T>(keys: readonly unknown[], compute: () => T): T {
    return this.facts.get(keys, compute);
  }

  /** memo() for a name and five keys, allocating nothing on a hit (TupleMemo.get5). */
  memo5<T, X, Y, Z>(name: string, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, make: (x: X, y: Y, z: Z) => T, x: X, y: Y, z: Z): T {
    return this.facts.get5(name, a, b, c, d, e, make, x, y, z);
  }
}

function makeEntry(time: number, kind: EvidenceEntry['kind'], summary: string): EvidenceEntry {
  return { time, kind, summary };
}
