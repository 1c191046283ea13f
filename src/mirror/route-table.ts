/**
 * The route mirror: every route of every table, stored compactly. A full
 * Internet table is ~1.2M routes; one JS object per route would cost several
 * hundred bytes and most of the sync time, so routes live as fixed-size word
 * slots (the record format's route payload, copied as is) in 1 MiB chunks,
 * found through an open-addressing index, and become `Route` objects only
 * when someone reads them. Multipath nexthops (rare in big tables) live in a Map.
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

const AF_INET6 = 10;
const STRIDE = 32; // 30 payload words + generation + index hash: a slot is 128 bytes
const GEN = 30;
const ORDER = 13; // reserved payload word: the order stamp (lower = earlier in the kernel's list)
const HASH = 31; // primaryHash of the slot, kept so that index growth and removal need not rehash
const CHUNK_SHIFT = 13; // 8192 slots = 1 MiB per chunk
const CHUNK_SLOTS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_SLOTS - 1;

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
  private chunks: Uint32Array[] = [];
  private chunkBytes: Uint8Array[] = [];
  private free: number[] = [];
  private highWater = 0;
  /**
   * Open addressing, linear probing, pairs [slot + 1 (0 = empty), hash]: probes and
   * growth compare hashes here without touching the slots (a cache miss each).
   */
  private index = new Int32Array(2 * 1024);
  private mask = 1023;
  private readonly multipath = new Map<number, RouteNexthop[]>();
  private count = 0;
  /** Order stamps grow up from the middle for appends and down for prepends. */
  private orderLast = 0x80000000;
  private orderFirst = 0x80000000;

  get size(): number {
    return this.count;
  }

  /** Bytes held by slots and index (for the benchmark's bytes-per-route figure). */
  get byteSize(): number {
    return this.chunks.length * CHUNK_SLOTS * STRIDE * 4 + this.index.byteLength;
  }

  private words(slot: number): Uint32Array {
    return this.chunks[slot >>> CHUNK_SHIFT];
  }

  private base(slot: number): number {
    return (slot & CHUNK_MASK) * STRIDE;
  }

  /** Same key as the kernel's fib lookup key: family, lengths, TOS, table, metric, dst, src. */
  private sameBaseKey(slot: number, u32: Uint32Array, p: number): boolean {
    const w = this.words(slot);
    const b = this.base(slot);
    if (w[b] !== u32[p] || w[b + F.ROUTE_TABLE] !== u32[p + F.ROUTE_TABLE]) return false;
    if (w[b + F.ROUTE_PRIORITY] !== u32[p + F.ROUTE_PRIORITY]) return false;
    for (let i = F.ROUTE_DST; i < F.ROUTE_DST + 8; i++) if (w[b + i] !== u32[p + i]) return false;
    return true;
  }

  private sameKey(slot: number, view: RecordView, p: number): boolean {
    if (!this.sameBaseKey(slot, view.u32, p)) return false;
    const u32 = view.u32;
    const w = this.words(slot);
    const b = this.base(slot);
    if (w[b + F.ROUTE_OIF] !== u32[p + F.ROUTE_OIF]) return false;
    for (let i = F.ROUTE_GATEWAY; i < F.ROUTE_GATEWAY + 4; i++) if (w[b + i] !== u32[p + i]) return false;
    // IPv6 keeps routes that differ only in device or gateway side by side (fib6_add_rt2node:
    // not ECMP siblings unless they have gateways); multipath routes carry neither at top level.
    if ((u32[p] & 0xff) === AF_INET6) return true;
    // IPv4 aliases of one key differ in type and nexthops (fib_table_insert: fa_match).
    if ((w[b + F.ROUTE_PROTO_SCOPE_TYPE_PREF] ^ u32[p + F.ROUTE_PROTO_SCOPE_TYPE_PREF]) & 0x00ff0000) return false;
    if (w[b + F.ROUTE_NH_ID] !== u32[p + F.ROUTE_NH_ID]) return false;
    if ((w[b + F.ROUTE_PRESENT_GWFAMILY] ^ u32[p + F.ROUTE_PRESENT_GWFAMILY]) & 0x00ff0000) return false;
    if (w[b + F.ROUTE_NH_COUNT] !== u32[p + F.ROUTE_NH_COUNT]) return false;
    const hops = this.nexthopsOf(view, p);
    return hops ? sameNexthops(this.multipath.get(slot), hops, false) : true;
  }

  /**
   * The first route (in the kernel's order) with the record's key, whatever its nexthops:
   * the one `ip route replace` replaces and a lookup uses. -1 when none.
   */
  firstWithKey(view: RecordView, p: number): number {
    const u32 = view.u32;
    const hash = primaryHash(u32, p) | 0;
    let best = -1;
    let bestOrder = Infinity;
    for (let i = hash & this.mask; this.index[2 * i] !== 0; i = (i + 1) & this.mask) {
      const slot = this.index[2 * i] - 1;
      if (this.index[2 * i + 1] !== hash || !this.sameBaseKey(slot, u32, p)) continue;
      const order = this.word(slot, ORDER);
      if (order < bestOrder) {
        best = slot;
        bestOrder = order;
      }
    }
    return best;
  }

  /** The route's place among the routes of its key (pass to upsert to keep it). */
  orderOf(slot: number): number {
    return this.word(slot, ORDER);
  }

  /** Slot of the route with the same identity as the record at `p`, or -1. */
  find(view: RecordView, p: number, hash = primaryHash(view.u32, p)): number {
    const u32 = view.u32;
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
    this.words(slot)[this.base(slot) + GEN] = generation;
    return slot;
  }

  private sameValues(slot: number, view: RecordView, p: number, compareExpiry: boolean): boolean {
    const u32 = view.u32;
    const w = this.words(slot);
    const b = this.base(slot);
    if (compareExpiry && w[b + F.ROUTE_EXPIRES] !== u32[p + F.ROUTE_EXPIRES]) return false;
    for (let k = 0; k < VALUE_WORDS.length; k++) if (w[b + VALUE_WORDS[k]] !== u32[p + VALUE_WORDS[k]]) return false;
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
    const hash = primaryHash(u32, p);
    const found = this.find(view, p, hash);
    if (found >= 0) {
      const w = this.words(found);
      const b = this.base(found);
      const same = this.sameValues(found, view, p, compareExpiry);
      const hops = this.nexthopsOf(view, p);
      const order = w[b + ORDER];
      copyFixed(u32, p, w, b);
      w[b + ORDER] = order;
      w[b + GEN] = generation;
      this.setMultipath(found, hops);
      return same ? SAME : CHANGED;
    }
    const slot = this.allocate();
    const w = this.words(slot);
    const b = this.base(slot);
    copyFixed(u32, p, w, b);
    w[b + ORDER] = place === APPEND ? ++this.orderLast : place === PREPEND ? --this.orderFirst : place;
    w[b + GEN] = generation;
    w[b + HASH] = hash;
    this.setMultipath(slot, this.nexthopsOf(view, p));
    this.insertIndex(slot);
    return ADDED;
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
    const w = this.words(slot);
    const b = this.base(slot);
    const index = this.index;
    let i = w[b + HASH] & this.mask;
    while (index[2 * i] !== slot + 1) i = (i + 1) & this.mask;
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
    w[b] = 0; // family 0 marks a free slot for iteration
    this.multipath.delete(slot);
    this.free.push(slot);
    this.count--;
  }

  /** Replaces the nexthop list of a multipath route (IPv6 deletes siblings one at a time). */
  replaceNexthops(slot: number, hops: RouteNexthop[]): void {
    const w = this.words(slot);
    const b = this.base(slot);
    if (hops.length === 1) {
      // One sibling left: the kernel now reports a plain route through it.
      const [h] = hops;
      const af = w[b] & 0xff;
      w[b + F.ROUTE_OIF] = h.index;
      let present = (w[b + F.ROUTE_PRESENT_GWFAMILY] & 0xffff & ~F.ROUTE_HAS_MULTIPATH) | F.ROUTE_HAS_OIF;
      let gwFamily = 0;
      if (h.gateway) {
        present |= F.ROUTE_HAS_GATEWAY;
        gwFamily = parseIp(h.gateway)?.family === 6 ? 10 : 2;
        writeIp(w, b + F.ROUTE_GATEWAY, h.gateway);
      }
      w[b + F.ROUTE_PRESENT_GWFAMILY] = present | ((gwFamily || af) << 16);
      w[b + F.ROUTE_NH_COUNT] = 0;
      this.multipath.delete(slot);
      return;
    }
    w[b + F.ROUTE_NH_COUNT] = hops.length;
    this.multipath.set(slot, hops);
  }

  generationOf(slot: number): number {
    return this.words(slot)[this.base(slot) + GEN];
  }

  read(slot: number): Route {
    const w = this.words(slot);
    return readRoute({ u32: w, u8: this.chunkBytes[slot >>> CHUNK_SHIFT] }, this.base(slot), this.multipath.get(slot));
  }

  /** Raw words of a slot (family, table, oif, prefsrc, ...) without building an object. */
  word(slot: number, word: number): number {
    return this.words(slot)[this.base(slot) + word];
  }

  multipathOf(slot: number): RouteNexthop[] | undefined {
    return this.multipath.get(slot);
  }

  /** Live slots, in storage order. Safe against removal of the current slot. */
  *slots(): IterableIterator<number> {
    for (let s = 0; s < this.highWater; s++) {
      if (this.words(s)[this.base(s)] !== 0) yield s;
    }
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
    let i = hash & this.mask;
    for (;;) {
      const e = this.index[2 * i];
      if (e === 0) return out;
      if (this.index[2 * i + 1] !== hash) {
        i = (i + 1) & this.mask;
        continue;
      }
      const w = this.words(e - 1);
      const b = this.base(e - 1);
      let match = (w[b] & 0x00ffffff) === probe[0] && w[b + F.ROUTE_TABLE] === table;
      for (let k = F.ROUTE_DST; match && k < F.ROUTE_DST + 4; k++) match = w[b + k] === probe[k];
      if (match) out.push(e - 1);
      i = (i + 1) & this.mask;
    }
  }

  clear(): void {
    this.chunks = [];
    this.chunkBytes = [];
    this.free = [];
    this.highWater = 0;
    this.index = new Int32Array(2 * 1024);
    this.mask = 1023;
    this.multipath.clear();
    this.count = 0;
    this.orderLast = 0x80000000;
    this.orderFirst = 0x80000000;
  }

  private allocate(): number {
    this.count++;
    if (this.count * 2 > this.mask + 1) this.growIndex();
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const slot = this.highWater++;
    if (slot >>> CHUNK_SHIFT >= this.chunks.length) {
      const words = new Uint32Array(CHUNK_SLOTS * STRIDE);
      this.chunks.push(words);
      this.chunkBytes.push(new Uint8Array(words.buffer));
    }
    return slot;
  }

  private insertIndex(slot: number): void {
    const hash = this.words(slot)[this.base(slot) + HASH] | 0;
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

/** A plain loop: cheaper than set(subarray()), which allocates a view per route. */
function copyFixed(from: Uint32Array, p: number, to: Uint32Array, b: number): void {
  for (let i = 0; i < F.ROUTE_FIXED_WORDS; i++) to[b + i] = from[p + i];
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

function writeIp(w: Uint32Array, word: number, text: string): void {
  const bytes = new Uint8Array(w.buffer, w.byteOffset + word * 4, 16);
  bytes.set(parseIp(text)?.bytes ?? new Uint8Array(16));
}
