/**
 * The route mirror: every route of every table, stored compactly. A full
 * Internet table is ~1.2M routes; one JS object per route would cost several
 * hundred bytes and most of the sync time, so routes live as fixed-size word
 * slots (route-slots.ts: 56 bytes for the common IPv4 route, 128 for the rest)
 * in 1 MiB chunks, found through an open-addressing index, and become `Route`
 * objects only when someone reads them. Multipath nexthops (rare in big tables)
 * live in a Map.
 *
 * Identity follows the kernel's: family, table, destination/length,
 * source/length, TOS, metric (fib_table_insert), and for IPv6 also the
 * device and gateway of single-path routes (fib6_add_rt2node). IPv4 keeps
 * several routes ("aliases") under one such key when they are added with
 * `ip route append`/`prepend` (NLM_F_APPEND / NLM_F_CREATE without NLM_F_EXCL):
 * they differ in type and nexthops, which are part of an IPv4 route's identity
 * here, and a deletion names the alias it removed. Aliases keep the kernel's
 * order (an order stamp per slot): a lookup, and `ip route replace`, take the
 * first.
 */
import * as F from '../netlink/record-format';
import { readRoute, readRouteNexthops, type RecordView } from '../netlink/decode';
import { parseIp } from '../netlink/ip';
import type { Route, RouteNexthop } from '../netlink/types';
import { GEN, HASH, ORDER, RouteSlots } from './route-slots';
import { NexthopUse } from './nexthop-use';

const AF_INET6 = 10;

// Words compared to decide whether a re-reported route changed (word 9 is reserved; the
// identity words are equal by construction). Expiry (w7) counts down between dumps and
// is compared only for live events.
const VALUE_WORDS = [1, 2, 4, 5, 6, 8, 10, 11, 12, 22, 23, 24, 25, 26, 27, 28, 29];

export const ADDED = 0;
export const CHANGED = 1;
export const SAME = 2;
export type UpsertStatus = typeof ADDED | typeof CHANGED | typeof SAME;

/** Where a new route goes among the routes of its key: `ip route append` vs `prepend`. */
export const APPEND = -1;
export const PREPEND = -2;

function primaryHash(u32: Uint32Array, p: number): number {
  // table + family/prefix lengths (not TOS or metric, so all metrics of a prefix share
  // a probe chain and routesTo() finds them together) + destination + source.
  let h = Math.imul(u32[p + F.ROUTE_TABLE] ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (u32[p] & 0x00ffffff), 0xc2b2ae35);
  for (let i = F.ROUTE_DST; i < F.ROUTE_DST + 8; i++) {
    h = Math.imul(h ^ u32[p + i], 0x27d4eb2f);
    h ^= h >>> 15;
  }
  return (h ^ (h >>> 16)) >>> 0;
}

export class RouteTable {
  private readonly slotStore = new RouteSlots();
  /**
   * Open addressing, linear probing, pairs [slot + 1 (0 = empty), hash]: probes and
   * growth compare hashes here without touching the slots (a cache miss each).
   */
  private index = new Int32Array(2 * 1024);
  private mask = 1023;
  private readonly multipath = new Map<number, RouteNexthop[]>();
  /** Routes by the nexthop object they name (nexthop events ask). */
  readonly nexthopUse = new NexthopUse();
  private count = 0;
  /** Order stamps grow up from the middle for appends and down for prepends. */
  private orderLast = 0x80000000;
  private orderFirst = 0x80000000;
  /** A slot read back as a record (read()). */
  private readonly scratch = new Uint32Array(F.ROUTE_FIXED_WORDS);
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  get size(): number {
    return this.count;
  }

  /** Bytes held by slots and index (for the benchmark's bytes-per-route figure). */
  get byteSize(): number {
    return this.slotStore.byteSize + this.index.byteLength;
  }

  /** Same key as the kernel's fib lookup key: family, lengths, TOS, table, metric, dst, src. */
  private sameBaseKey(slot: number, u32: Uint32Array, p: number): boolean {
    const s = this.slotStore;
    if (s.get(slot, 0) !== u32[p] || s.get(slot, F.ROUTE_TABLE) !== u32[p + F.ROUTE_TABLE]) return false;
    if (s.get(slot, F.ROUTE_PRIORITY) !== u32[p + F.ROUTE_PRIORITY]) return false;
    for (let i = F.ROUTE_DST; i < F.ROUTE_DST + 8; i++) if (s.get(slot, i) !== u32[p + i]) return false;
    return true;
  }

  private sameKey(slot: number, view: RecordView, p: number): boolean {
    if (!this.sameBaseKey(slot, view.u32, p)) return false;
    const u32 = view.u32;
    const s = this.slotStore;
    if (s.get(slot, F.ROUTE_OIF) !== u32[p + F.ROUTE_OIF]) return false;
    for (let i = F.ROUTE_GATEWAY; i < F.ROUTE_GATEWAY + 4; i++) if (s.get(slot, i) !== u32[p + i]) return false;
    // IPv6 keeps routes that differ only in device or gateway side by side (fib6_add_rt2node:
    // not ECMP siblings unless they have gateways); multipath routes carry neither at top level.
    if ((u32[p] & 0xff) === AF_INET6) return true;
    // IPv4 aliases of one key differ in type and fib_info (fib_table_insert: fa_match), which
    // holds the protocol, scope, preferred source, metrics (MTU) and nexthops: `ip route
    // prepend blackhole P` beside `blackhole P mtu 1400` is a second route.
    if ((s.get(slot, F.ROUTE_PROTO_SCOPE_TYPE_PREF) ^ u32[p + F.ROUTE_PROTO_SCOPE_TYPE_PREF]) & 0x00ffffff) return false;
    if (s.get(slot, F.ROUTE_MTU) !== u32[p + F.ROUTE_MTU]) return false;
    for (let i = F.ROUTE_PREFSRC; i < F.ROUTE_PREFSRC + 4; i++) if (s.get(slot, i) !== u32[p + i]) return false;
    if (s.get(slot, F.ROUTE_NH_ID) !== u32[p + F.ROUTE_NH_ID]) return false;
    if ((s.get(slot, F.ROUTE_PRESENT_GWFAMILY) ^ u32[p + F.ROUTE_PRESENT_GWFAMILY]) & 0x00ff0000) return false;
    if (s.get(slot, F.ROUTE_NH_COUNT) !== u32[p + F.ROUTE_NH_COUNT]) return false;
    const hops = this.nexthopsOf(view, p);
    return hops ? sameNexthops(this.multipath.get(slot), hops, false) : true;
  }

  /**
   * The first route (in the kernel's order) with the record's key, whatever its nexthops:
   * the one `ip route replace` replaces and a lookup uses; with `accept`, the first it
   * accepts. -1 when none.
   */
  firstWithKey(view: RecordView, p: number, accept?: (slot: number) => boolean): number {
    const u32 = view.u32;
    const hash = primaryHash(u32, p) | 0;
    let best = -1;
    let bestOrder = Infinity;
    for (let i = hash & this.mask; this.index[2 * i] !== 0; i = (i + 1) & this.mask) {
      const slot = this.index[2 * i] - 1;
      if (this.index[2 * i + 1] !== hash || !this.sameBaseKey(slot, u32, p)) continue;
      const order = this.slotStore.get(slot, ORDER);
      if (order < bestOrder && (accept === undefined || accept(slot))) {
        best = slot;
        bestOrder = order;
      }
    }
    return best;
  }

  /** The route's place among the routes of its key (pass to upsert to keep it). */
  orderOf(slot: number): number {
    return this.slotStore.get(slot, ORDER);
  }

  /** Slot of the route with the same identity as the record at `p`, or -1. */
  find(view: RecordView, p: number, hash = primaryHash(view.u32, p)): number {
    const index = this.index;
    let i = hash & this.mask;
    for (;;) {
      const e = index[2 * i];
      if (e === 0) return -1;
      if (index[2 * i + 1] === (hash | 0) && this.sameKey(e - 1, view, p)) return e - 1;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * If a route with the record's identity is stored with the same values, stamps it with
   * `generation` and returns its slot; otherwise changes nothing and returns -1. The
   * resync fast path: a re-dump of a million unchanged routes builds no objects.
   */
  stampIfSame(view: RecordView, p: number, generation: number, compareExpiry: boolean): number {
    const slot = this.find(view, p);
    if (slot < 0 || !this.sameValues(slot, view, p, compareExpiry)) return -1;
    this.slotStore.set(slot, GEN, generation);
    return slot;
  }

  private sameValues(slot: number, view: RecordView, p: number, compareExpiry: boolean): boolean {
    const u32 = view.u32;
    const s = this.slotStore;
    if (compareExpiry && s.get(slot, F.ROUTE_EXPIRES) !== u32[p + F.ROUTE_EXPIRES]) return false;
    for (let k = 0; k < VALUE_WORDS.length; k++) if (s.get(slot, VALUE_WORDS[k]) !== u32[p + VALUE_WORDS[k]]) return false;
    const hops = this.nexthopsOf(view, p);
    return hops ? sameNexthops(this.multipath.get(slot), hops, true) : !this.multipath.has(slot);
  }

  /**
   * Inserts or updates the route record at payload word `p` of `view`, stamping it with
   * `generation`. `compareExpiry` false ignores a changed expiry (dumps, where it only
   * counts down). A new route goes `place`: APPEND, PREPEND, or an order stamp taken
   * from orderOf() (a replaced route's place). Returns ADDED, CHANGED or SAME (a number,
   * not an object: this runs once per route of a million-route dump).
   */
  upsert(view: RecordView, p: number, generation: number, compareExpiry: boolean, place = APPEND): UpsertStatus {
    const u32 = view.u32;
    const s = this.slotStore;
    const hash = primaryHash(u32, p);
    const found = this.find(view, p, hash);
    if (found >= 0) {
      const same = this.sameValues(found, view, p, compareExpiry);
      const hops = this.nexthopsOf(view, p);
      const order = s.get(found, ORDER);
      this.noteNexthop(found, -1);
      // A compact route that gained a value a compact slot cannot hold (an expiry, say) moves.
      const slot = s.canHold(found, u32, p) ? found : this.move(found, u32, p);
      s.write(slot, u32, p);
      s.set(slot, ORDER, order);
      s.set(slot, GEN, generation);
      this.setMultipath(slot, hops);
      this.noteNexthop(slot, 1);
      return same ? SAME : CHANGED;
    }
    this.count++;
    if (this.count * 2 > this.mask + 1) this.growIndex();
    const slot = s.allocate(u32, p);
    s.write(slot, u32, p);
    s.set(slot, ORDER, place === APPEND ? ++this.orderLast : place === PREPEND ? --this.orderFirst : place);
    s.set(slot, GEN, generation);
    s.set(slot, HASH, hash);
    this.setMultipath(slot, this.nexthopsOf(view, p));
    this.insertIndex(slot, hash | 0);
    if ((u32[p + F.ROUTE_PRESENT_GWFAMILY] & F.ROUTE_HAS_NH_ID) !== 0) this.noteNexthop(slot, 1);
    return ADDED;
  }

  /** Moves a route to a slot that can hold the record at `p`; the index follows. Returns the new slot. */
  private move(from: number, u32: Uint32Array, p: number): number {
    const s = this.slotStore;
    const to = s.allocate(u32, p);
    s.set(to, HASH, s.get(from, HASH));
    const i = this.indexPosition(from);
    this.index[2 * i] = to + 1;
    this.multipath.delete(from);
    s.release(from);
    return to;
  }

  private indexPosition(slot: number): number {
    const index = this.index;
    let i = this.slotStore.get(slot, HASH) & this.mask;
    while (index[2 * i] !== slot + 1) i = (i + 1) & this.mask;
    return i;
  }

  private noteNexthop(slot: number, delta: 1 | -1): void {
    const s = this.slotStore;
    this.nexthopUse.note(s.get(slot, F.ROUTE_PRESENT_GWFAMILY), s.get(slot, F.ROUTE_NH_ID), s.get(slot, F.ROUTE_NH_COUNT), delta);
  }

  private nexthopsOf(view: RecordView, p: number): RouteNexthop[] | null {
    const present = view.u32[p + F.ROUTE_PRESENT_GWFAMILY] & 0xffff;
    if (!(present & F.ROUTE_HAS_MULTIPATH)) return null;
    return readRouteNexthops(view, p, view.u32[p + F.ROUTE_NH_COUNT]);
  }

  private setMultipath(slot: number, hops: RouteNexthop[] | null): void {
    if (hops) this.multipath.set(slot, hops);
    else if (this.multipath.size > 0) this.multipath.delete(slot);
  }

  /** Removes a route by slot. */
  remove(slot: number): void {
    const index = this.index;
    let i = this.indexPosition(slot);
    // Backward-shift deletion keeps linear-probe chains intact without tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const e = index[2 * j];
      if (e === 0) break;
      const home = index[2 * j + 1] & this.mask;
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!between) {
        index[2 * i] = e;
        index[2 * i + 1] = index[2 * j + 1];
        i = j;
      }
    }
    index[2 * i] = 0;
    this.noteNexthop(slot, -1);
    this.slotStore.release(slot);
    this.multipath.delete(slot);
    this.count--;
  }

  /** Replaces the nexthop list of a multipath route (IPv6 deletes siblings one at a time). */
  replaceNexthops(slot: number, hops: RouteNexthop[]): void {
    // Multipath routes never fit a compact slot: this is a full one.
    const s = this.slotStore;
    this.noteNexthop(slot, -1);
    if (hops.length === 1) {
      // One sibling left: the kernel now reports a plain route through it.
      const [h] = hops;
      const af = s.get(slot, 0) & 0xff;
      s.set(slot, F.ROUTE_OIF, h.index);
      let present = (s.get(slot, F.ROUTE_PRESENT_GWFAMILY) & 0xffff & ~F.ROUTE_HAS_MULTIPATH) | F.ROUTE_HAS_OIF;
      let gwFamily = 0;
      if (h.gateway) {
        present |= F.ROUTE_HAS_GATEWAY;
        const gw = parseIp(h.gateway);
        gwFamily = gw?.family === 6 ? 10 : 2;
        const words = new Uint32Array((gw?.bytes ?? new Uint8Array(16)).slice().buffer);
        for (let k = 0; k < 4; k++) s.set(slot, F.ROUTE_GATEWAY + k, words[k]);
      }
      s.set(slot, F.ROUTE_PRESENT_GWFAMILY, present | ((gwFamily || af) << 16));
      s.set(slot, F.ROUTE_NH_COUNT, 0);
      this.multipath.delete(slot);
      this.noteNexthop(slot, 1);
      return;
    }
    s.set(slot, F.ROUTE_NH_COUNT, hops.length);
    this.multipath.set(slot, hops);
    this.noteNexthop(slot, 1);
  }

  /** Live slots not stamped with `generation` (the sweep after a dump). */
  slotsNotStamped(generation: number): number[] {
    return this.slotStore.notStamped(generation >>> 0);
  }

  generationOf(slot: number): number {
    return this.slotStore.get(slot, GEN);
  }

  read(slot: number): Route {
    this.slotStore.expand(slot, this.scratch);
    return readRoute({ u32: this.scratch, u8: this.scratchBytes }, 0, this.multipath.get(slot));
  }

  /** Raw words of a slot (family, table, oif, prefsrc, ...) without building an object. */
  word(slot: number, word: number): number {
    return this.slotStore.get(slot, word);
  }

  multipathOf(slot: number): RouteNexthop[] | undefined {
    return this.multipath.get(slot);
  }

  /** Live slots, in storage order. Safe against removal of the current slot. */
  slots(): IterableIterator<number> {
    return this.slotStore.live();
  }

  /** Slots of routes whose destination prefix is exactly (table, family, dst/len), any metric or TOS. */
  slotsTo(table: number, family: 4 | 6, dst: Uint8Array, dstLen: number): number[] {
    const probe = new Uint32Array(F.ROUTE_FIXED_WORDS);
    const bytes = new Uint8Array(probe.buffer);
    probe[0] = (family === 6 ? 10 : 2) | (dstLen << 8);
    probe[F.ROUTE_TABLE] = table;
    bytes.set(dst.subarray(0, 16), F.ROUTE_DST * 4);
    const out: number[] = [];
    const hash = primaryHash(probe, 0) | 0;
    const s = this.slotStore;
    let i = hash & this.mask;
    for (;;) {
      const e = this.index[2 * i];
      if (e === 0) return out;
      if (this.index[2 * i + 1] !== hash) {
        i = (i + 1) & this.mask;
        continue;
      }
      const slot = e - 1;
      let match = (s.get(slot, 0) & 0x00ffffff) === probe[0] && s.get(slot, F.ROUTE_TABLE) === table;
      for (let k = F.ROUTE_DST; match && k < F.ROUTE_DST + 4; k++) match = s.get(slot, k) === probe[k];
      if (match) out.push(slot);
      i = (i + 1) & this.mask;
    }
  }

  clear(): void {
    this.slotStore.clear();
    this.index = new Int32Array(2 * 1024);
    this.mask = 1023;
    this.multipath.clear();
    this.nexthopUse.clear();
    this.count = 0;
    this.orderLast = 0x80000000;
    this.orderFirst = 0x80000000;
  }

  private insertIndex(slot: number, hash: number): void {
    const index = this.index;
    let i = hash & this.mask;
    while (index[2 * i] !== 0) i = (i + 1) & this.mask;
    index[2 * i] = slot + 1;
    index[2 * i + 1] = hash;
  }

  private growIndex(): void {
    const old = this.index;
    const index = new Int32Array(old.length * 2);
    const mask = index.length / 2 - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k] === 0) continue;
      let i = old[k + 1] & mask;
      while (index[2 * i] !== 0) i = (i + 1) & mask;
      index[2 * i] = old[k];
      index[2 * i + 1] = old[k + 1];
    }
    this.index = index;
    this.mask = mask;
  }
}

/** `withFlags` false compares what identifies a nexthop (device, gateway, weight), not its state. */
function sameNexthops(a: RouteNexthop[] | undefined, b: RouteNexthop[], withFlags: boolean): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].index !== b[i].index || a[i].weight !== b[i].weight || a[i].gateway !== b[i].gateway) return false;
    if (withFlags && a[i].flags !== b[i].flags) return false;
  }
  return true;
}
