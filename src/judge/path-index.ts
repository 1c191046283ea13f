/**
 * Indexes from what a netlink event names to the paths it can affect, so that
 * work per event is proportional to those paths, never to all watched paths:
 * - by local address (address events; with the peer's list, finds a path's shared evaluation),
 * - by interface (link and nexthop events; the egress and the local address's interface),
 * - by next hop ("oif|address": neighbour events),
 * - by peer, sorted per family, so a route prefix finds the peers it covers with
 *   two binary searches (route events, route expiries).
 * Paths hold their addresses as shared atoms: the index keys on those, never on
 * per-path strings, so a path costs a few map and array slots.
 */
import type { Family } from '../netlink/types';
import { prefixContains } from '../netlink/ip';
import type { AddressAtom, CanonicalPath } from './path-spec';
import { InterfaceLists, NextHopLists, removeAt, type SlotHolder } from './slot-lists';

/** Byte order of two 16-byte addresses. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The first and last addresses inside prefix/length. */
function prefixRange(family: Family, prefix: Uint8Array, length: number): [Uint8Array, Uint8Array] {
  const n = family === 4 ? 4 : 16;
  const lo = new Uint8Array(16);
  const hi = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    const mask = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
    lo[i] = prefix[i] & mask;
    hi[i] = (prefix[i] & mask) | (~mask & 0xff);
  }
  return [lo, hi];
}

function lowerBound(sorted: readonly AddressAtom[], key: Uint8Array): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareBytes(sorted[mid].bytes, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface IndexedPath extends SlotHolder {
  readonly path: CanonicalPath;
  /** Positions in its peer's and its local address's lists; owned by the index. */
  peerSlot: number;
  localSlot: number;
}

export class PathIndex<P extends IndexedPath> {
  /** Paths by local address text, each path at its localSlot. */
  private readonly byLocal = new Map<string, P[]>();
  private readonly byInterface = new InterfaceLists<P>();
  private readonly byNextHop = new NextHopLists<P>();
  /** Interned next-hop keys: every path through one gateway shares its key string. */
  private readonly nextHopKeys = new Map<string, string>();
  private readonly byPeer = new Map<AddressAtom, P[]>();
  /**
   * Peers per family, sorted on demand: adds append and removals only drop the byPeer
   * entry, so watching or forgetting 10k paths at once costs O(n log n) once, at the
   * next prefix query, instead of an O(n) splice each.
   */
  private readonly peers: Record<Family, PeerList> = { 4: new PeerList(), 6: new PeerList() };

  /**
   * The indexed path with the same addresses, interface, mark and bound device: found in
   * the shorter of its local's and its peer's lists (a server: few locals per peer; a
   * client with many source addresses: few peers per local).
   */
  find(path: CanonicalPath): P | undefined {
    const mine = this.byLocal.get(path.local);
    const theirs = mine && this.byPeer.get(path.remoteAtom);
    if (!theirs) return undefined;
    if (mine.length <= theirs.length) {
      for (const p of mine) if (p.path.remote === path.remote && p.path.sameExtras(path)) return p;
    } else {
      for (const p of theirs) if (p.path.local === path.local && p.path.sameExtras(path)) return p;
    }
    return undefined;
  }

  add(p: P): void {
    const { localAtom, remoteAtom } = p.path;
    let mine = this.byLocal.get(localAtom.text);
    if (!mine) this.byLocal.set(localAtom.text, (mine = []));
    p.localSlot = mine.length;
    mine.push(p);

    let list = this.byPeer.get(remoteAtom);
    if (!list) {
      this.byPeer.set(remoteAtom, (list = []));
      this.peers[remoteAtom.family].add(remoteAtom);
    }
    p.peerSlot = list.length;
    list.push(p);
  }

  /** Removes a path (its interfaces must be released with leaveInterfaces). */
  remove(p: P): void {
    const { localAtom, remoteAtom } = p.path;
    const mine = this.byLocal.get(localAtom.text);
    if (!mine || mine[p.localSlot] !== p) return;
    const movedOfLocal = removeAt(mine, p.localSlot);
    if (movedOfLocal) movedOfLocal.localSlot = p.localSlot;
    p.localSlot = -1;
    if (mine.length === 0) this.byLocal.delete(localAtom.text);

    const list = this.byPeer.get(remoteAtom)!;
    const moved = removeAt(list, p.peerSlot);
    if (moved) moved.peerSlot = p.peerSlot;
    p.peerSlot = -1;
    if (list.length > 0) return;
    this.byPeer.delete(remoteAtom);
    this.peers[remoteAtom.family].stale++;
  }

  /**
   * Moves a path from the address and egress interfaces it was listed under to new ones;
   * its ifindex and bound device (`scope`, `bound`) stay listed. No arrays: a burst's
   * first checks index 100k paths (two lists of four per path were ~150 B of garbage each).
   */
  moveInterfaces(
    p: P,
    fromAddress: number | null,
    fromEgress: number | null,
    toAddress: number | null,
    toEgress: number | null,
    scope: number | null,
    bound: number | null,
  ): void {
    if (fromAddress !== null && !oneOf(fromAddress, toAddress, toEgress, scope, bound)) this.byInterface.delete(fromAddress, p);
    if (fromEgress !== null && fromEgress !== fromAddress && !oneOf(fromEgress, toAddress, toEgress, scope, bound)) this.byInterface.delete(fromEgress, p);
    if (toAddress !== null) this.byInterface.add(toAddress, p);
    if (toEgress !== null) this.byInterface.add(toEgress, p);
    if (scope !== null) this.byInterface.add(scope, p);
    if (bound !== null) this.byInterface.add(bound, p);
  }

  /** Drops a path from these interfaces (repeats and nulls allowed; no array per forgotten path). */
  leaveInterfaces(p: P, a: number | null, b: number | null, c: number | null, d: number | null): void {
    if (a !== null) this.byInterface.delete(a, p);
    if (b !== null && b !== a) this.byInterface.delete(b, p);
    if (c !== null && c !== a && c !== b) this.byInterface.delete(c, p);
    if (d !== null && d !== a && d !== b && d !== c) this.byInterface.delete(d, p);
  }

  /** Calls `fn` for every path of the family. */
  forEachOfFamily(family: Family, fn: (p: P) => void): void {
    for (const atom of this.sortedPeers(family)) for (const p of this.byPeer.get(atom) ?? []) fn(p);
  }

  /**
   * Moves a path from the next hop it was indexed under to `next`; returns the key to
   * keep (the interned string, shared by every path through that next hop).
   */
  setNextHop(p: P, previous: string | null, next: string | null): string | null {
    if (previous === next) return previous;
    if (previous !== null) {
      this.byNextHop.delete(previous, p);
      if (!this.byNextHop.get(previous)) this.nextHopKeys.delete(previous);
    }
    if (next === null) return null;
    let key = this.nextHopKeys.get(next);
    if (key === undefined) this.nextHopKeys.set(next, (key = next));
    this.byNextHop.add(key, p);
    return key;
  }

  /** The paths through this next hop (unordered; do not change the index while iterating). */
  viaNextHop(key: string): readonly P[] | undefined {
    return this.byNextHop.get(key);
  }

  /** True when some path has this local address. */
  hasLocal(address: string): boolean {
    return this.byLocal.has(address);
  }

  /** The paths with this local address (a copy: checks may re-index them). */
  withLocal(address: string): P[] {
    const mine = this.byLocal.get(address);
    return mine ? mine.slice() : [];
  }

  /** The paths indexed under this interface (unordered; do not change the index while iterating). */
  onInterface(index: number): readonly P[] | undefined {
    return this.byInterface.get(index);
  }

  /** Calls `fn` for each path whose local address lies inside prefix/length (a host has few of them). */
  forEachLocalCovered(family: Family, prefix: Uint8Array, length: number, fn: (p: P) => void): void {
    for (const mine of this.byLocal.values()) {
      const first = mine[0];
      if (first.path.family !== family || !prefixContains(prefix, length, first.path.localBytes)) continue;
      for (const p of mine.slice()) fn(p);
    }
  }

  /** Calls `fn` for each path whose peer lies inside prefix/length. */
  forEachCovered(family: Family, prefix: Uint8Array, length: number, fn: (p: P) => void): void {
    const sorted = this.sortedPeers(family);
    if (sorted.length === 0) return;
    const [lo, hi] = prefixRange(family, prefix, length);
    for (let i = lowerBound(sorted, lo); i < sorted.length && compareBytes(sorted[i].bytes, hi) <= 0; i++) {
      const list = this.byPeer.get(sorted[i]);
      if (list) for (const p of list) fn(p);
    }
  }

  /** Sorted atoms of the peers (some may be stale: their lists are gone). */
  private sortedPeers(family: Family): readonly AddressAtom[] {
    return this.peers[family].sorted((a) => this.byPeer.has(a));
  }
}

/** One family's peer atoms, each listed once, sorted when asked. */
class PeerList {
  private atoms: AddressAtom[] = [];
  private readonly listed = new Set<AddressAtom>();
  private inOrder = true;
  /** Listed atoms that no path names any more. */
  stale = 0;

  add(atom: AddressAtom): void {
    if (this.listed.has(atom)) {
      this.stale--; // it was stale and is live again
      return;
    }
    const last = this.atoms[this.atoms.length - 1];
    if (last && compareBytes(last.bytes, atom.bytes) >= 0) this.inOrder = false;
    this.atoms.push(atom);
    this.listed.add(atom);
  }

  sorted(live: (a: AddressAtom) => boolean): readonly AddressAtom[] {
    if (!this.inOrder || this.stale > this.atoms.length / 2) {
      const kept = this.atoms.filter(live);
      for (const a of this.atoms) if (!live(a)) this.listed.delete(a);
      kept.sort((a, b) => compareBytes(a.bytes, b.bytes));
      this.atoms = kept;
      this.inOrder = true;
      this.stale = 0;
    }
    return this.atoms;
  }
}

function oneOf(i: number, a: number | null, b: number | null, c: number | null, d: number | null): boolean {
  return i === a || i === b || i === c || i === d;
}
