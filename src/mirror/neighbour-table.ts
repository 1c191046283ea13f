/**
 * The ARP and NDP caches: one entry per (interface, address), as the kernel keys its
 * neighbour tables (neigh_lookup on dev + primary key). Entries are stamped with the
 * generation of the dump or event that last reported them, for mark-and-sweep.
 *
 * The kernel does not announce every state (seen on 6.18): an entry is created INCOMPLETE
 * without a message when traffic first needs it, and REACHABLE -> DELAY is silent
 * (neigh_timer_handler sets no notify for it); PROBE, REACHABLE, STALE and FAILED are
 * announced. So an entry here may read 'reachable' while the kernel is in DELAY.
 */
import { normalizeIp } from '../netlink/ip';
import type { Neighbour } from '../netlink/types';

function key(index: number, address: string): string {
  return `${index}|${address}`;
}

/** What a neighbour report changes: state, router flag, link-layer address. */
function sameNeighbour(a: Neighbour, b: Neighbour): boolean {
  return a.state === b.state && a.flags === b.flags && a.linkAddress === b.linkAddress;
}

export class NeighbourTable {
  private readonly map = new Map<string, { value: Neighbour; gen: number }>();

  get size(): number {
    return this.map.size;
  }

  get(index: number, address: string): Neighbour | undefined {
    const found = this.map.get(key(index, address));
    if (found) return found.value;
    const canonical = normalizeIp(address);
    return canonical === null || canonical === address ? undefined : this.map.get(key(index, canonical))?.value;
  }

  *values(): IterableIterator<Neighbour> {
    for (const { value } of this.map.values()) yield value;
  }

  /**
   * RTM_NEWNEIGH (live or dumped). Returns the entry it replaced (null when new), or
   * undefined when nothing a reader can see changed: the kernel re-notifies unchanged
   * entries (e.g. `ip neigh replace` with the same facts, a confirmation refresh).
   */
  put(n: Neighbour, gen: number): Neighbour | null | undefined {
    const k = key(n.index, n.address);
    const old = this.map.get(k);
    this.map.set(k, { value: n, gen });
    if (!old) return null;
    return sameNeighbour(old.value, n) ? undefined : old.value;
  }

  /** RTM_DELNEIGH: the entry it removed, if the mirror had it. */
  remove(n: Neighbour): Neighbour | undefined {
    const k = key(n.index, n.address);
    const old = this.map.get(k);
    if (old) this.map.delete(k);
    return old?.value;
  }

  /** Every entry of a deleted interface (removed from the table). */
  removeLink(index: number): Neighbour[] {
    const gone: Neighbour[] = [];
    for (const [k, { value }] of this.map) {
      if (value.index !== index) continue;
      this.map.delete(k);
      gone.push(value);
    }
    return gone;
  }

  /** A neighbour dump of generation `gen` completed: drops (and returns) what it did not see. */
  sweep(gen: number): Neighbour[] {
    const gone: Neighbour[] = [];
    for (const [k, entry] of this.map) {
      if (entry.gen === gen) continue;
      this.map.delete(k);
      gone.push(entry.value);
    }
    return gone;
  }
}
