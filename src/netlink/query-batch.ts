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
  /** Per query, the texts of its `to` and `from` given by nameAddresses() (or null). */
  private readonly texts: Array<string | null> = [];

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
    this.texts[2 * index] = null;
    this.texts[2 * index + 1] = null;
    this.count = index + 1;
    return index;
  }

  /**
   * Names the addresses of the query just added: the texts of its own `to` and `from`
   * bytes, canonical as formatIp() prints them (`from` null when it has none; not
   * checked: parsing them would cost what they save). Optional: its answer reuses them
   * when the kernel's bytes are the query's, instead of formatting two addresses per
   * answer (a burst of 100k watches formatted 210k).
   */
  nameAddresses(to: string, from: string | null): void {
    const index = this.count - 1;
    if (index < 0) throw new InvalidArgumentError('RouteQueryBatch.nameAddresses: add a query first');
    this.texts[2 * index] = to;
    this.texts[2 * index + 1] = from;
  }

  /**
   * @internal How an answer finds its names (readLookupAnswers).
   * The text named for query `index`'s `to` (`from` false) or `from` when the address at
   * word `word` of `u32` (an answer's) has the same bytes; otherwise null.
   */
  knownText(index: number, from: boolean, u32: Uint32Array, word: number): string | null {
    const text = this.texts[2 * index + (from ? 1 : 0)];
    if (text == null) return null;
    const q = index * Q.QUERY_RECORD_WORDS + (from ? Q.QUERY_FROM : Q.QUERY_TO) / 4;
    const w = this.words;
    if (w[q] !== u32[word]) return null;
    if (this.bytes[index * Q.QUERY_RECORD_BYTES + Q.QUERY_FAMILY] === 6) {
      if (w[q + 1] !== u32[word + 1] || w[q + 2] !== u32[word + 2] || w[q + 3] !== u32[word + 3]) return null;
    }
    return text;
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
