/** Nexthop objects (RTM_NEWNEXTHOP) by id, each stamped with the generation that last vouched for it. */
import type { Nexthop } from '../netlink/types';

function sameNexthop(a: Nexthop, b: Nexthop): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class NexthopStore {
  private readonly map = new Map<number, { value: Nexthop; gen: number }>();

  get size(): number {
    return this.map.size;
  }

  get(id: number): Nexthop | undefined {
    return this.map.get(id)?.value;
  }

  *values(): IterableIterator<Nexthop> {
    for (const { value } of this.map.values()) yield value;
  }

  /** Returns the nexthop it replaced (null when new), or undefined when nothing changed. */
  put(nh: Nexthop, gen: number): Nexthop | null | undefined {
    const old = this.map.get(nh.id);
    this.map.set(nh.id, { value: nh, gen });
    if (!old) return null;
    return sameNexthop(old.value, nh) ? undefined : old.value;
  }

  /** The nexthop it removed, if the mirror had it. */
  remove(id: number): Nexthop | undefined {
    const old = this.map.get(id);
    if (old) this.map.delete(id);
    return old?.value;
  }

  /** A nexthop dump of generation `gen` completed: removes what it did not see, handing each to `removed`. */
  sweep(gen: number, removed: (nh: Nexthop) => void): void {
    for (const [id, { value, gen: g }] of this.map) {
      if (g === gen) continue;
      this.map.delete(id);
      removed(value);
    }
  }
}
