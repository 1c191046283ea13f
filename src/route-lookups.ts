/**
 * Kernel route lookups (RTM_GETROUTE) for NetlinkMonitor: one query, many, or a packed
 * RouteQueryBatch. A started monitor answers from its own lookup socket; before start()
 * a standalone socket is opened on first use. Routing answers are results, only misuse throws.
 */
import { InvalidArgumentError } from './errors';
import { loadBinding } from './native/binding';
import type { NativeError, NativeMonitor, NativeRouteLookup, NativeRouteQuery } from './native/binding-types';
import { mapNativeError } from './native/errors';
import { readRoute, viewOf } from './netlink/decode';
import { readLookupAnswers } from './netlink/lookup-answers';
import { RouteQueryBatch } from './netlink/query-batch';
import { HEADER_WORDS } from './netlink/record-format';
import { parseRouteQuery } from './netlink/route-query';
import type { RouteQuery } from './netlink/types';
import type { RouteLookupResult } from './netlink/view';

export class RouteLookups {
  private standalone: NativeRouteLookup | null = null;
  /** lookupRoutes() packs into this one, reused call after call. */
  private scratch: RouteQueryBatch | null = null;

  /** `monitorSocket`: the started monitor's addon object, or null before start(). */
  constructor(
    private readonly netns: string | undefined,
    private readonly monitorSocket: () => NativeMonitor | null,
  ) {}

  /** A standalone socket is open (close() has something to do). */
  get open(): boolean {
    return this.standalone !== null;
  }

  one(query: RouteQuery): RouteLookupResult {
    const { family, to, from } = parseRouteQuery(query, 'lookupRoute');
    const native: NativeRouteQuery = {
      family,
      to,
      from,
      oif: query.oif,
      iif: query.iif,
      mark: query.mark,
      uid: query.uid,
    };
    try {
      const monitor = this.monitorSocket();
      const buffer = monitor ? monitor.lookup(native) : this.standaloneSocket().get(native);
      return { ok: true, route: readRoute(viewOf(buffer), HEADER_WORDS) };
    } catch (err) {
      const e = err as NativeError;
      if (typeof e?.errno !== 'number') throw err;
      return { ok: false, code: e.code ?? `E${e.errno}`, errno: e.errno, message: e.message };
    }
  }

  many(queries: readonly RouteQuery[]): RouteLookupResult[] {
    if (!Array.isArray(queries)) throw new InvalidArgumentError('lookupRoutes: queries must be an array of RouteQuery');
    const batch = (this.scratch ??= new RouteQueryBatch());
    batch.clear();
    for (let i = 0; i < queries.length; i++) {
      const q = queries[i];
      const { family, to, from } = parseRouteQuery(q, `lookupRoutes: queries[${i}]`);
      batch.add(family, to, from ?? null, q.oif, q.mark, q.iif, q.uid);
    }
    return this.batch(batch);
  }

  batch(batch: RouteQueryBatch): RouteLookupResult[] {
    if (!(batch instanceof RouteQueryBatch)) throw new InvalidArgumentError('lookupBatch: batch must be a RouteQueryBatch');
    if (batch.length === 0) return [];
    let answers: ArrayBuffer;
    try {
      const monitor = this.monitorSocket();
      answers = monitor ? monitor.lookupMany(batch.packed()) : this.standaloneSocket().getMany(batch.packed());
    } catch (err) {
      throw mapNativeError(err, this.netns);
    }
    return readLookupAnswers(answers, batch.length, batch);
  }

  close(): void {
    this.standalone?.close();
    this.standalone = null;
  }

  private standaloneSocket(): NativeRouteLookup {
    if (this.standalone) return this.standalone;
    try {
      this.standalone = new (loadBinding().RouteLookup)({ netns: this.netns });
    } catch (err) {
      throw mapNativeError(err, this.netns);
    }
    return this.standalone;
  }
}
