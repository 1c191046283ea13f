/**
 * How a new connection to each peer would leave, carried from pass to pass while
 * nothing happened that could change it. A loss makes every path it touches ask this
 * (is a reconnect worth it?) at the event, again at the hold-down's deadline and at
 * the cap: 10k paths to 10k peers would ask the kernel 10k times at each, for the
 * answers it gave a few seconds before. Any event that can move a source choice, a
 * link's state, a policy decision or a next hop's failure starts afresh; a route
 * change forgets only the peers its prefix covers (longest-prefix match: a route that
 * does not contain a peer can neither be chosen for it nor stop being chosen), so the
 * local route the kernel drops with an address keeps the rest. Lifetime refreshes,
 * carrier-neutral link messages, expiry-only route refreshes and neighbour churn
 * between usable states change nothing.
 */
import type { NetworkEvent } from '../netlink/types';
import { onlyLifetimesChanged } from './evidence/addresses';
import { neighbourMatters } from './evidence/neighbours';
import { onlyExpiryChanged } from './evidence/routes';
import { linkIsUp } from './interface-history';
import { queryKey } from './pass';
import { unboundQuery, type NewConnection } from './path-queries';
import type { CanonicalPath } from './path-spec';

/** Which new connections' ways the event can change: all, those to the peers a route covers, or none. */
export function lookupsChangedBy(event: NetworkEvent): 'all' | 'covered' | 'none' {
  const removed = 'action' in event && event.action === 'removed';
  switch (event.type) {
    case 'address':
      return event.action === 'changed' && event.previous && onlyLifetimesChanged(event.previous, event.address) ? 'none' : 'all';
    case 'link':
      return removed || !event.previous || linkIsUp(event.previous) !== linkIsUp(event.link) ? 'all' : 'none';
    case 'route':
      return event.action === 'changed' && event.previous && onlyExpiryChanged(event.previous, event.route) ? 'none' : 'covered';
    case 'neighbour':
      return neighbourMatters(event.neighbour, event.previous, removed) ? 'all' : 'none';
    case 'synced':
    case 'dropped':
      return 'none';
    default:
      return 'all'; // nexthop, rule, resync
  }
}

/** What a new connection along a path that names an interface or mark depends on: its unbound query. */
function connectionKey(path: CanonicalPath): string {
  return queryKey(unboundQuery(path));
}

/**
 * Answers by path: a plain path's (no interface, mark or bound device) is its peer's, kept
 * on the peer's atom under a generation number (forgetting them all is one increment);
 * the others' by their unbound query.
 */
export class NewConnections {
  private gen = 1;
  private answers = new Map<string, NewConnection | null>();

  /** Forgets the answers of these paths' peers (the peers a route change covers). */
  forget(paths: Iterable<CanonicalPath>): void {
    for (const path of paths) {
      if (path.plain) path.remoteAtom.wayGen = 0;
      else this.answers.delete(connectionKey(path));
    }
  }

  clear(): void {
    this.gen++;
    if (this.answers.size) this.answers = new Map();
  }

  has(path: CanonicalPath): boolean {
    return path.plain ? path.remoteAtom.wayGen === this.gen : this.answers.has(connectionKey(path));
  }

  /** `compute(path, env)` when the peer's way is not known yet (a plain function: no closure per path). */
  get<E>(path: CanonicalPath, compute: (path: CanonicalPath, env: E) => NewConnection | null, env: E): NewConnection | null {
    if (path.plain) {
      const atom = path.remoteAtom;
      if (atom.wayGen !== this.gen) {
        atom.way = compute(path, env);
        atom.wayGen = this.gen;
      }
      return atom.way as NewConnection | null;
    }
    const key = connectionKey(path);
    let way = this.answers.get(key);
    if (way === undefined) {
      // Bounded: a huge loss fills it once; the next relevant event empties it anyway.
      if (this.answers.size >= 262_144) this.answers = new Map();
      this.answers.set(key, (way = compute(path, env)));
    }
    return way;
  }
}
