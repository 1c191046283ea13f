// mulberry32: a small deterministic PRNG, so a seed always gives the same sequence (a
// failure names a reproducible case). Plain JS: the benchmarks use it too.

/**
 * @param {number} seed
 * @returns {() => number} numbers in [0, 1)
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws from a [0, 1) source: integers, picks, chances, weighted choices. */
export class Rand {
  /** @param {() => number} next */
  constructor(next) {
    this.next = next;
  }

  /** An integer in [lo, hi]. */
  int(lo, hi) {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick(xs) {
    return xs[Math.floor(this.next() * xs.length)];
  }

  chance(p) {
    return this.next() < p;
  }

  /** One of the table's values, each drawn in proportion to its weight. */
  weighted(table) {
    const total = table.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of table) if ((x -= w) < 0) return v;
    return table[table.length - 1][1];
  }
}
