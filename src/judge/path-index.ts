/**
 * Indexes from what a netlink event names to the paths it can affect, so that
 * work per event is proportional to those paths, never to all watched paths:
 * - by local address (address events),
 * - by interface (link and nexthop events; the egress and the local address's interface),
 * - by next hop ("oif|address": neighbour events),
 * - by peer, sorted per family, so a route prefix finds the peers it covers with
 *   two binary searches (route events, route expiries).
 */
import type { Family } from '../netlink/types';

class SetMap<K, V> {
  private readonly map = new Map<K, Set<V>>();

  add(key: K, value: V): void {
    let set = this.map.get(key);
    if (!set) this.map.set(key, (set = new Set()));
    set.add(value);
  }

  delete(key: K, value: V): boolean {
    const set = this.map.get(key);
    if (!set?.delete(value)) return false;
    if (set.size === 0) this.map.delete(key);
    return true;
  }

  get(key: K): ReadonlySet<V> | undefined {
    return this.map.get(key);
  }
}

/** Fixed-width hex of the address bytes: lexical order is numeric order. */
function hexKey(family: Family, bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < (family === 4 ? 4 : 16); i++) s += bytes[i].toString(16).padStart(2, '0');
  return s;
}

/** The first and last keys inside prefix/length. */
function prefixRange(family: Family, prefix: Uint8Array, length: number): [string, string] {
  const n = family === 4 ? 4 : 16;
  const lo = new Uint8Array(16);
  const hi = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    const mask = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
    lo[i] = prefix[i] & mask;
    hi[i] = (prefix[i] & mask) | (~mask & 0xff);
  }
  return [hexKey(family, lo), hexKey(family, hi)];
}

function lowerBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface IndexedPath {
  readonly path: { readonly family: Family; readonly local: string; readonly remoteBytes: Uint8Array };
}

export class PathIndex<P extends IndexedPath> {
  private readonly byLocal = new SetMap<string, P>();
  private readonly byInterface = new SetMap<number, P>();
  private readonly byNextHop = new SetMap<string, P>();
  private readonly byPeer = new Map<string, Set<P>>();
  private readonly keyOf = new WeakMap<P, string>();
  /**
   * Peer keys per family, sorted on demand: adds append and removals only drop the
   * byPeer entry, so watching or forgetting 10k paths at once costs O(n log n) once,
   * at the next prefix query, instead of an O(n) splice each.
   */
  private readonly peers: Record<Family, { keys: string[]; sorted: boolean; stale: number }> = {
    4: { keys: [], sorted: true, stale: 0 },
    6: { keys: [], sorted: true, stale: 0 },
  };

  add(p: P): void {
    this.byLocal.add(p.path.local, p);
    const k = hexKey(p.path.family, p.path.remoteBytes);
    const key = `${p.path.family}:${k}`;
    this.keyOf.set(p, key);
    let set = this.byPeer.get(key);
    if (!set) {
      this.byPeer.set(key, (set = new Set()));
      const peers = this.peers[p.path.family];
      if (peers.sorted && peers.keys.length > 0 && peers.keys[peers.keys.length - 1] >= k) peers.sorted = false;
      peers.keys.push(k);
    }
    set.add(p);
  }

  /** Removes a path (its interfaces must be released with setInterfaces(p, old, [])). */
  remove(p: P): void {
    this.byLocal.delete(p.path.local, p);
    const key = this.keyOf.get(p);
    if (key === undefined) return;
    this.keyOf.delete(p);
    const set = this.byPeer.get(key);
    if (!set?.delete(p) || set.size > 0) return;
    this.byPeer.delete(key);
    this.peers[p.path.family].stale++;
  }

  /** Moves a path from the interfaces it was indexed under to `next`. */
  setInterfaces(p: P, previous: readonly number[], next: readonly number[]): void {
    for (const i of previous) if (!next.includes(i)) this.byInterface.delete(i, p);
    for (const i of next) this.byInterface.add(i, p);
  }

  /** Calls `fn` for every path of the family. */
  forEachOfFamily(family: Family, fn: (p: P) => void): void {
    for (const k of this.sortedPeers(family)) for (const p of this.byPeer.get(`${family}:${k}`) ?? []) fn(p);
  }

  /** Moves a path from the next hop it was indexed under to `next`. */
  setNextHop(p: P, previous: string | null, next: string | null): void {
    if (previous === next) return;
    if (previous !== null) this.byNextHop.delete(previous, p);
    if (next !== null) this.byNextHop.add(next, p);
  }

  viaNextHop(key: string): ReadonlySet<P> | undefined {
    return this.byNextHop.get(key);
  }

  withLocal(address: string): ReadonlySet<P> | undefined {
    return this.byLocal.get(address);
  }

  onInterface(index: number): ReadonlySet<P> | undefined {
    return this.byInterface.get(index);
  }

  /** Calls `fn` for each path whose peer lies inside prefix/length. */
  forEachCovered(family: Family, prefix: Uint8Array, length: number, fn: (p: P) => void): void {
    const sorted = this.sortedPeers(family);
    if (sorted.length === 0) return;
    const [lo, hi] = prefixRange(family, prefix, length);
    for (let i = lowerBound(sorted, lo); i < sorted.length && sorted[i] <= hi; i++) {
      const set = this.byPeer.get(`${family}:${sorted[i]}`);
      if (set) for (const p of set) fn(p);
    }
  }

  /** Sorted, deduplicated peer keys of live peers. */
  private sortedPeers(family: Family): string[] {
    const peers = this.peers[family];
    if (!peers.sorted || peers.stale > peers.keys.length / 2) {
      const live = peers.keys.filter((k) => this.byPeer.has(`${family}:${k}`));
      live.sort();
      peers.keys = live.filter((k, i) => i === 0 || live[i - 1] !== k);
      peers.sorted = true;
      peers.stale = 0;
    }
    return peers.keys;
  }
}
