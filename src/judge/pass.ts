/**
 * One event or timer batch of the judge: kernel lookups memoised, interface-level
 * facts computed once, each path checked once, and the notifications held until
 * the batch is done (a listener never runs in the middle of a pass).
 */
import type { NetworkEvent, RouteQuery } from '../netlink/types';
import type { RouteLookupResult } from '../netlink/view';
import type { PathEvaluation } from './path-evaluation';
import type { EvidenceEntry } from './types';

/** A lookup threw (the source was closed or failed): the pass stops and the judge ends. */
export class SourceFailure extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

export function queryKey(q: RouteQuery): string {
  return `${q.to}|${q.from ?? ''}|${q.oif ?? ''}|${q.mark ?? ''}`;
}

export class Pass {
  private readonly lookups = new Map<string, RouteLookupResult>();
  private readonly facts = new Map<string, unknown>();
  readonly checked = new Set<PathEvaluation>();
  readonly notifications: Array<() => unknown[]> = [];
  private entry: EvidenceEntry | null = null;

  constructor(
    readonly now: number,
    private readonly describe: (() => string) | null = null,
    private readonly event?: NetworkEvent,
  ) {}

  /** The evidence entry of the event being handled, built once and shared by every path it touches. */
  eventEntry(): EvidenceEntry | null {
    if (!this.describe) return null;
    this.entry ??= { time: this.now, kind: 'event', summary: this.describe(), event: this.event };
    return this.entry;
  }

  /** The kernel's answer to `q`, asked once per pass; a throwing source becomes SourceFailure. */
  lookup(q: RouteQuery, ask: (q: RouteQuery) => RouteLookupResult): RouteLookupResult {
    const key = queryKey(q);
    let r = this.lookups.get(key);
    if (!r) {
      try {
        r = ask(q);
      } catch (err) {
        throw new SourceFailure(err);
      }
      this.lookups.set(key, r);
    }
    return r;
  }

  memo<T>(key: string, compute: () => T): T {
    if (!this.facts.has(key)) this.facts.set(key, compute());
    return this.facts.get(key) as T;
  }
}
