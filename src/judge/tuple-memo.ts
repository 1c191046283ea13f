/** Tuple names remembered for the last-hit check. */
const RECENT = 8;

/** What find() returns for a tuple it does not hold (undefined and null are values). */
const MISSING: unique symbol = Symbol('missing');

/**
 * Values cached under a tuple of keys compared by identity, in nested maps: no key
 * string is built and hashed per lookup (a pass asks once per path, 100k times).
 * Start a tuple with the fact's name; one name, one tuple length.
 */
export class TupleMemo {
  private root = new Map<unknown, unknown>();
  private count = 0;
  /**
   * Per tuple name (its first key), the last tuple asked and its value: a pass asks the
   * same few tuples path after path, interleaved (a lost address's text, its replacement,
   * the failure text, the entries), so one last-hit slot would miss every time.
   */
  private readonly recent: Array<{ keys: readonly unknown[]; value: unknown }> = [];
  private nextSlot = 0;

  /** `limit`: forget everything once this many values are held (for memos that outlive a pass). */
  constructor(private readonly limit = Infinity) {}

  get<T>(keys: readonly unknown[], compute: () => T): T {
    const recent = this.recent;
    let mine = -1;
    for (let r = 0; r < recent.length; r++) {
      const lk = recent[r].keys;
      if (lk[0] !== keys[0] || lk.length !== keys.length) continue;
      let i = 1;
      while (i < keys.length && lk[i] === keys[i]) i++;
      if (i === keys.length) return recent[r].value as T;
      mine = r;
      break;
    }
    let value = this.find(keys) as T | typeof MISSING;
    if (value === MISSING) value = this.store(keys, compute());
    this.remember(keys, value, mine);
    return value;
  }

  /**
   * get() for a name and five keys, with no array and no closure per call: a hit
   * allocates nothing. A deadline asks 10k times, and the key arrays and closures were
   * ~600 B a path of the ~1.7 KB its pass allocated (the scavenges they caused were a
   * third of its time). `make(x, y, z)` computes on a miss; pass null for unused keys.
   */
  get5<T, X, Y, Z>(
    name: string,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    make: (x: X, y: Y, z: Z) => T,
    x: X,
    y: Y,
    z: Z,
  ): T {
    const recent = this.recent;
    let mine = -1;
    for (let r = 0; r < recent.length; r++) {
      const k = recent[r].keys;
      if (k[0] !== name || k.length !== 6) continue;
      if (k[1] === a && k[2] === b && k[3] === c && k[4] === d && k[5] === e) return recent[r].value as T;
      mine = r;
      break;
    }
    // The miss computes through `make` itself, not a closure: optimized code that inlined a
    // call of a closure made here would hold that closure, and V8 throws such code away
    // once the closure is collected ("weak objects": every check deoptimized after a pass).
    const keys = [name, a, b, c, d, e];
    let value = this.find(keys) as T | typeof MISSING;
    if (value === MISSING) value = this.store(keys, make(x, y, z));
    this.remember(keys, value, mine);
    return value;
  }

  /** The value held under `keys`, or MISSING. */
  private find(keys: readonly unknown[]): unknown {
    let node: Map<unknown, unknown> | undefined = this.root;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      node = node.get(keys[i]) as Map<unknown, unknown> | undefined;
      if (!node) return MISSING;
    }
    return node.has(keys[last]) ? node.get(keys[last]) : MISSING;
  }

  /** Holds `value` under `keys` (everything is forgotten first once `limit` values are held). */
  private store<T>(keys: readonly unknown[], value: T): T {
    if (this.count >= this.limit) {
      this.root = new Map();
      this.count = 0;
    }
    this.count++;
    let node = this.root;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(keys[i]) as Map<unknown, unknown> | undefined;
      if (!next) node.set(keys[i], (next = new Map()));
      node = next;
    }
    node.set(keys[last], value);
    return value;
  }

  /**
   * Makes `keys` its name's recent tuple: in `mine`, the slot the lookup found holding the
   * name (-1: none), else a free or the oldest one.
   */
  private remember(keys: readonly unknown[], value: unknown, mine: number): void {
    const recent = this.recent;
    if (mine < 0 && recent.length < RECENT) {
      recent.push({ keys, value });
      return;
    }
    const slot = mine >= 0 ? mine : this.nextSlot++ % RECENT;
    recent[slot].keys = keys;
    recent[slot].value = value;
  }
}
