/**
 * RouteQueryBatch: many route lookups packed for one addon call
 * (NetlinkMonitor.lookupBatch). Filled from address bytes, without parsing strings
 * or building an object per query; reusable with clear().
 */
import { InvalidArgumentError } from '../errors';
import * as Q from './query-format';

const INITIAL_CAPACITY = 16;

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

export class RouteQueryBatch {
  private bytes: Uint8Array;
  private words: Uint32Array;
  private count = 0;

  /** `capacity`: queries to make room for at first (the buffer grows as needed). */
  constructor(capacity = INITIAL_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new InvalidArgumentError(`RouteQueryBatch: capacity must be an integer >= 0, got ${capacity}`);
    }
    this.bytes = new Uint8Array(Math.max(1, capacity) * Q.QUERY_RECORD_BYTES);
    this.words = new Uint32Array(this.bytes.buffer);
  }

  /** Queries added since the last clear(). */
  get length(): number {
    return this.count;
  }

  /**
   * Adds a query and returns its index (the index of its answer). `to` and `from` are
   * address bytes as parseIp() returns them: 16 bytes (IPv4 in the first 4), or 4 for
   * IPv4. `from`, `oif`, `mark`, `iif` and `uid` are optional (null or undefined).
   */
  add(
    family: 4 | 6,
    to: Uint8Array,
    from: Uint8Array | null = null,
    oif?: number | null,
    mark?: number | null,
    iif?: number | null,
    uid?: number | null,
  ): number {
    const index = this.count;
    if (family !== 4 && family !== 6) this.invalid(index, `family must be 4 or 6, got ${family}`);
    this.checkAddress(index, 'to', family, to);
    if (from != null) this.checkAddress(index, 'from', family, from);
    if (index * Q.QUERY_RECORD_BYTES === this.bytes.length) this.grow();
    const at = index * Q.QUERY_RECORD_BYTES;
    const w = index * Q.QUERY_RECORD_WORDS;
    // A reused record: clear what an earlier query left (words 0..12).
    this.words.fill(0, w, w + Q.QUERY_RECORD_WORDS);
    let present = 0;
    this.bytes[at + Q.QUERY_FAMILY] = family;
    this.bytes.set(family === 4 ? to.subarray(0, 4) : to, at + Q.QUERY_TO);
    if (from != null) {
      present |= Q.QUERY_HAS_FROM;
      this.bytes.set(family === 4 ? from.subarray(0, 4) : from, at + Q.QUERY_FROM);
    }
    present |= this.setU32(index, w + Q.QUERY_OIF_WORD, 'oif', oif, Q.QUERY_HAS_OIF);
    present |= this.setU32(index, w + Q.QUERY_MARK_WORD, 'mark', mark, Q.QUERY_HAS_MARK);
    present |= this.setU32(index, w + Q.QUERY_IIF_WORD, 'iif', iif, Q.QUERY_HAS_IIF);
    present |= this.setU32(index, w + Q.QUERY_UID_WORD, 'uid', uid, Q.QUERY_HAS_UID);
    this.bytes[at + Q.QUERY_PRESENT] = present;
    this.count = index + 1;
    return index;
  }

  /** Forgets every query; the buffer is kept for the next burst. */
  clear(): void {
    this.count = 0;
  }

  /** The packed records (a view, valid until the next add() or clear()). */
  packed(): Uint8Array {
    return this.bytes.subarray(0, this.count * Q.QUERY_RECORD_BYTES);
  }

  private grow(): void {
    const next = new Uint8Array(this.bytes.length * 2);
    next.set(this.bytes);
    this.bytes = next;
    this.words = new Uint32Array(next.buffer);
  }

  private setU32(index: number, word: number, name: string, v: number | null | undefined, bit: number): number {
    if (v == null) return 0;
    if (!isU32(v)) this.invalid(index, `${name} must be an unsigned 32-bit integer, got ${v}`);
    this.words[word] = v;
    return bit;
  }

  private checkAddress(index: number, name: string, family: 4 | 6, bytes: Uint8Array): void {
    const ok = bytes instanceof Uint8Array && (bytes.length === 16 || (family === 4 && bytes.length === 4));
    if (!ok) {
      this.invalid(
        index,
        `${name} must be a Uint8Array of ${family === 4 ? '4 or 16 bytes' : '16 bytes'} for IPv${family}`,
      );
    }
  }

  private invalid(index: number, what: string): never {
    throw new InvalidArgumentError(`RouteQueryBatch.add: query ${index}: ${what}`);
  }
}
