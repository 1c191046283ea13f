/**
 * Values cached under a tuple of keys compared by identity, in nested maps: no key
 * string is built and hashed per lookup (a pass asks once per path, 100k times).
 * Start a tuple with the fact's name; one name, one tuple length.
 */
export class TupleMemo {
  private root = new Map<unknown, unknown>();
  private count = 0;
  /** The last tuple asked and its value: a burst asks the same tuple for path after path. */
  private lastKeys: readonly unknown[] | null = null;
  private lastValue: unknown = undefined;

  /** `limit`: forget everything once this many values are held (for memos that outlive a pass). */
  constructor(private readonly limit = Infinity) {}

  get<T>(keys: readonly unknown[], compute: () => T): T {
    const lk = this.lastKeys;
    if (lk !== null && lk.length === keys.length) {
      let i = 0;
      while (i < keys.length && lk[i] === keys[i]) i++;
      if (i === keys.length) return this.lastValue as T;
    }
    const value = this.lookup(keys, compute);
    this.lastKeys = keys;
    this.lastValue = value;
    return value;
  }

  private lookup<T>(keys: readonly unknown[], compute: () => T): T {
    let node = this.root;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(keys[i]) as Map<unknown, unknown> | undefined;
      if (!next) node.set(keys[i], (next = new Map()));
      node = next;
    }
    if (node.has(keys[last])) return node.get(keys[last]) as T;
    const value = compute();
    if (this.count >= this.limit) {
      this.root = new Map();
      this.count = 0;
      return this.lookup(keys, () => value);
    }
    this.count++;
    node.set(keys[last], value);
    return value;
  }
}
