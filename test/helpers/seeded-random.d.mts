/** mulberry32: numbers in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number;

/** Draws from a [0, 1) source: integers, picks, chances, weighted choices. */
export class Rand {
  constructor(next: () => number);
  readonly next: () => number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
  /** One of the table's values, each drawn in proportion to its weight. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T;
}
