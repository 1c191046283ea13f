/**
 * The judge's lists of paths by interface, by next hop, and of the suspect ones. Each path keeps its own
 * position in each list, so leaving one is a swap with the list's last path: no hash
 * table of 100k entries to grow while a burst is watched or to probe while 10k gone
 * paths are forgotten (a Set of that size cost ~0.5 µs per add and ~0.2 µs per delete,
 * in cache misses). Lists are unordered.
 */

/**
 * Takes the item at `slot` out of `list` by moving the last item there; returns the moved
 * item (now at `slot`, for the caller to record), or null when the last one was taken.
 * Every list here, and the index's peer and local lists, leaves this way.
 */
export function removeAt<T>(list: T[], slot: number): T | null {
  const last = list.pop()!;
  if (slot >= list.length) return null;
  list[slot] = last;
  return last;
}

/** What a path holds for the lists: its interfaces and positions, its next hop's position. */
export interface SlotHolder {
  /** The first interface the path is listed under (-1: none) and its position there. */
  ifaceA: number;
  slotA: number;
  /** More interfaces (a bound device, a link-local scope), as [interface, position] pairs. */
  ifaceRest: number[] | null;
  /** Position in its next hop's list (-1: none). */
  nextHopSlot: number;
}

/** Paths by interface; a path is listed at most once under each. */
export class InterfaceLists<P extends SlotHolder> {
  private readonly lists = new Map<number, P[]>();

  get(iface: number): readonly P[] | undefined {
    return this.lists.get(iface);
  }

  add(iface: number, p: P): void {
    if (slotOf(p, iface) >= 0) return;
    let list = this.lists.get(iface);
    if (!list) this.lists.set(iface, (list = []));
    const slot = list.length;
    list.push(p);
    if (p.ifaceA < 0) {
      p.ifaceA = iface;
      p.slotA = slot;
    } else {
      p.ifaceRest = p.ifaceRest ? [...p.ifaceRest, iface, slot] : [iface, slot];
    }
  }

  delete(iface: number, p: P): void {
    const slot = slotOf(p, iface);
    if (slot < 0) return;
    const list = this.lists.get(iface)!;
    const moved = removeAt(list, slot);
    if (moved) setSlot(moved, iface, slot);
    if (list.length === 0) this.lists.delete(iface);
    unlist(p, iface);
  }
}

function slotOf(p: SlotHolder, iface: number): number {
  if (p.ifaceA === iface) return p.slotA;
  const rest = p.ifaceRest;
  if (rest) for (let i = 0; i < rest.length; i += 2) if (rest[i] === iface) return rest[i + 1];
  return -1;
}

function setSlot(p: SlotHolder, iface: number, slot: number): void {
  if (p.ifaceA === iface) {
    p.slotA = slot;
    return;
  }
  const rest = p.ifaceRest!;
  for (let i = 0; i < rest.length; i += 2) if (rest[i] === iface) rest[i + 1] = slot;
}

function unlist(p: SlotHolder, iface: number): void {
  const rest = p.ifaceRest;
  if (p.ifaceA === iface) {
    // The first of the rest moves up (the fields hold the common single interface).
    p.ifaceA = rest ? rest[0] : -1;
    p.slotA = rest ? rest[1] : -1;
    p.ifaceRest = rest && rest.length > 2 ? rest.slice(2) : null;
    return;
  }
  const kept = rest!.filter((_, i) => rest![i - (i & 1)] !== iface);
  p.ifaceRest = kept.length ? kept : null;
}

/** Paths by next hop key; a path is listed under one next hop at most. */
export class NextHopLists<P extends SlotHolder> {
  private readonly lists = new Map<string, P[]>();

  get(key: string): readonly P[] | undefined {
    return this.lists.get(key);
  }

  add(key: string, p: P): void {
    let list = this.lists.get(key);
    if (!list) this.lists.set(key, (list = []));
    p.nextHopSlot = list.length;
    list.push(p);
  }

  /** Returns false when `p` was not listed under `key`. */
  delete(key: string, p: P): boolean {
    const list = this.lists.get(key);
    const slot = p.nextHopSlot;
    if (!list || list[slot] !== p) return false;
    const moved = removeAt(list, slot);
    if (moved) moved.nextHopSlot = slot;
    p.nextHopSlot = -1;
    if (list.length === 0) this.lists.delete(key);
    return true;
  }
}

/** The suspect paths, each at its own position (see the top: no hash probe per verdict). */
export class SuspectList<P extends { suspectSlot: number }> implements Iterable<P> {
  private readonly items: P[] = [];

  get size(): number {
    return this.items.length;
  }

  has(p: P): boolean {
    return p.suspectSlot >= 0 && this.items[p.suspectSlot] === p;
  }

  add(p: P): void {
    if (this.has(p)) return;
    p.suspectSlot = this.items.length;
    this.items.push(p);
  }

  delete(p: P): void {
    if (!this.has(p)) return;
    const moved = removeAt(this.items, p.suspectSlot);
    if (moved) moved.suspectSlot = p.suspectSlot;
    p.suspectSlot = -1;
  }

  clear(): void {
    for (const p of this.items) p.suspectSlot = -1;
    this.items.length = 0;
  }

  [Symbol.iterator](): Iterator<P> {
    return this.items[Symbol.iterator]();
  }
}
