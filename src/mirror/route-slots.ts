/**
 * Slot storage for the route mirror (route-table.ts): each route's fixed words live in
 * one of two arenas of 1 MiB chunks, and a slot id names the arena in its low bit.
 *
 * - Full slots (32 words, 128 bytes) hold any route: the record format's 30 route
 *   payload words as they are, then the generation and the index hash.
 * - Compact slots (14 words, 56 bytes) hold the common IPv4 route: one whose words that
 *   a compact slot does not store are all zero (no multipath, nexthop object, expiry,
 *   MTU or input interface; IPv4 gateway). That is nearly every route of a full Internet
 *   table, so the mirror of a million routes needs less than half the memory. Reading a compact slot as a full one
 *   (get(), expand()) gives exactly the record it was written from.
 *
 * Word numbers are the full layout's everywhere: GEN and HASH follow the payload.
 */
import * as F from '../netlink/record-format';

export const GEN = 30;
export const HASH = 31;
/** Reserved payload word: the order stamp among IPv4 routes of one key (lower = earlier). */
export const ORDER = 13;

const FULL_STRIDE = 32;
const COMPACT_STRIDE = 14;
const AF_INET = 2;
/** Full word stored at each compact word (the rest of a compact route is zero). */
const STORED = [
  F.ROUTE_FAMILY_DLEN_SLEN_TOS,
  F.ROUTE_PROTO_SCOPE_TYPE_PREF,
  F.ROUTE_FLAGS,
  F.ROUTE_TABLE,
  F.ROUTE_PRIORITY,
  F.ROUTE_OIF,
  F.ROUTE_PRESENT_GWFAMILY,
  ORDER,
  F.ROUTE_DST,
  F.ROUTE_SRC,
  F.ROUTE_GATEWAY,
  F.ROUTE_PREFSRC,
  GEN,
  HASH,
];
/** Compact word of each full word, -1 where a compact route is always zero. */
const COMPACT_OF = new Int8Array(FULL_STRIDE).fill(-1);
STORED.forEach((full, compact) => (COMPACT_OF[full] = compact));
/** Payload words a compact slot does not store: a route fits one only if they are zero. */
const UNSTORED = [...Array(F.ROUTE_FIXED_WORDS).keys()].filter((w) => COMPACT_OF[w] < 0 && w !== ORDER);

/** True if the route record at payload word `p` fits a compact slot without loss. */
export function fitsCompact(u32: Uint32Array, p: number): boolean {
  if ((u32[p] & 0xff) !== AF_INET) return false;
  for (let k = 0; k < UNSTORED.length; k++) if (u32[p + UNSTORED[k]] !== 0) return false;
  return true;
}

class Arena {
  readonly chunks: Uint32Array[] = [];
  readonly free: number[] = [];
  highWater = 0;
  readonly shift: number;
  readonly mask: number;

  /** `shift`: 2^shift slots per chunk (~1 MiB). */
  constructor(readonly stride: number, shift: number) {
    this.shift = shift;
    this.mask = (1 << shift) - 1;
  }

  allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const n = this.highWater++;
    if (n >>> this.shift >= this.chunks.length) this.chunks.push(new Uint32Array((this.mask + 1) * this.stride));
    return n;
  }

  get byteSize(): number {
    return this.chunks.length * (this.mask + 1) * this.stride * 4;
  }
}

export class RouteSlots {
  private full = new Arena(FULL_STRIDE, 13);
  private compact = new Arena(COMPACT_STRIDE, 14);

  get byteSize(): number {
    return this.full.byteSize + this.compact.byteSize;
  }

  /** A new slot for the record at `p` (compact when it fits); its words are not written yet. */
  allocate(u32: Uint32Array, p: number): number {
    return fitsCompact(u32, p) ? (this.compact.allocate() << 1) | 1 : this.full.allocate() << 1;
  }

  /** True if the slot can hold the record at `p` (a compact slot only a compact route). */
  canHold(slot: number, u32: Uint32Array, p: number): boolean {
    return (slot & 1) === 0 || fitsCompact(u32, p);
  }

  get(slot: number, word: number): number {
    const n = slot >>> 1;
    if (slot & 1) {
      const c = COMPACT_OF[word];
      const a = this.compact;
      return c < 0 ? 0 : a.chunks[n >>> a.shift][(n & a.mask) * COMPACT_STRIDE + c];
    }
    const a = this.full;
    return a.chunks[n >>> a.shift][(n & a.mask) * FULL_STRIDE + word];
  }

  /** Sets a word; in a compact slot only a stored word (or a zero). */
  set(slot: number, word: number, value: number): void {
    const n = slot >>> 1;
    if (slot & 1) {
      const c = COMPACT_OF[word];
      if (c < 0) {
        if (value !== 0) throw new Error(`routeguard: word ${word} of a compact route slot must stay 0`);
        return;
      }
      const a = this.compact;
      a.chunks[n >>> a.shift][(n & a.mask) * COMPACT_STRIDE + c] = value;
      return;
    }
    const a = this.full;
    a.chunks[n >>> a.shift][(n & a.mask) * FULL_STRIDE + word] = value;
  }

  /** Copies the record's payload words into the slot (order, generation and hash are the caller's). */
  write(slot: number, u32: Uint32Array, p: number): void {
    const n = slot >>> 1;
    if (slot & 1) {
      const a = this.compact;
      const w = a.chunks[n >>> a.shift];
      const b = (n & a.mask) * COMPACT_STRIDE;
      // A plain loop over the stored words: no subarray views per route.
      for (let c = 0; c < 12; c++) w[b + c] = u32[p + STORED[c]]; // GEN and HASH are the caller's
      return;
    }
    const a = this.full;
    const w = a.chunks[n >>> a.shift];
    const b = (n & a.mask) * FULL_STRIDE;
    for (let i = 0; i < F.ROUTE_FIXED_WORDS; i++) w[b + i] = u32[p + i];
  }

  /** The slot's 30 payload words, as the record it was written from, into `out` at word 0. */
  expand(slot: number, out: Uint32Array): void {
    for (let i = 0; i < F.ROUTE_FIXED_WORDS; i++) out[i] = this.get(slot, i);
  }

  /** Frees a slot; family 0 marks it free for iteration. */
  release(slot: number): void {
    this.set(slot, F.ROUTE_FAMILY_DLEN_SLEN_TOS, 0);
    (slot & 1 ? this.compact : this.full).free.push(slot >>> 1);
  }

  /** Live slots, full arena first, each in storage order. Safe against freeing the current slot. */
  *live(): IterableIterator<number> {
    for (let n = 0; n < this.full.highWater; n++) if (this.get(n << 1, 0) !== 0) yield n << 1;
    for (let n = 0; n < this.compact.highWater; n++) if (this.get((n << 1) | 1, 0) !== 0) yield (n << 1) | 1;
  }

  /**
   * Live slots whose generation is not `gen` (what a finished dump did not see), scanning
   * the chunks directly: the sweep after every sync visits all of a million slots.
   */
  notStamped(gen: number): number[] {
    const out: number[] = [];
    const scan = (a: Arena, stride: number, genWord: number, kind: number) => {
      for (let n = 0; n < a.highWater; n++) {
        const w = a.chunks[n >>> a.shift];
        const b = (n & a.mask) * stride;
        if (w[b] !== 0 && w[b + genWord] !== gen) out.push((n << 1) | kind);
      }
    };
    scan(this.full, FULL_STRIDE, GEN, 0);
    scan(this.compact, COMPACT_STRIDE, COMPACT_OF[GEN], 1);
    return out;
  }

  clear(): void {
    this.full = new Arena(FULL_STRIDE, 13);
    this.compact = new Arena(COMPACT_STRIDE, 14);
  }
}
