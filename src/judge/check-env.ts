/**
 * The check environment of one pass (CheckEnv over the judge's source). A class, not
 * an object of closures: optimized code that inlined a per-pass closure is thrown
 * away when that pass is collected (V8 deopts it for "weak objects"), so every
 * deadline pass of 10k paths used to start in the interpreter.
 */
import type { RouteQuery } from '../netlink/types';
import type { NetworkSource, NetworkStateView, RouteLookupResult } from '../netlink/view';
import type { LocalRoutes } from './evidence/routes';
import type { ResolvedJudgeOptions } from './hold-downs';
import type { InterfaceHistory } from './interface-history';
import type { NewConnections } from './new-connections';
import type { Pass, RouteAsker } from './pass';
import type { CheckEnv, NewConnection } from './path-queries';
import type { CanonicalPath } from './path-spec';
import type { TupleMemo } from './tuple-memo';

/** What a pass's environment reads from its judge, for the whole life of the judge. */
export interface CheckEnvParts {
  readonly source: NetworkSource;
  readonly history: InterfaceHistory;
  readonly options: ResolvedJudgeOptions;
  readonly localRoutes: LocalRoutes;
  readonly newConnections: NewConnections;
  /** Route answers and their texts, shared across passes. */
  readonly interned: TupleMemo;
  readonly stats: { kernelLookups: number };
}

export class PassCheckEnv implements CheckEnv, RouteAsker {
  readonly view: NetworkStateView;
  readonly history: InterfaceHistory;
  readonly options: ResolvedJudgeOptions;
  readonly now: number;

  constructor(
    private readonly parts: CheckEnvParts,
    private readonly pass: Pass,
  ) {
    this.view = parts.source.state;
    this.history = parts.history;
    this.options = parts.options;
    this.now = pass.now;
  }

  /** One lookup not answered in this pass yet: a request to the kernel. */
  ask(query: RouteQuery): RouteLookupResult {
    this.parts.stats.kernelLookups++;
    return this.parts.source.lookupRoute(query);
  }

  lookup(query: RouteQuery): RouteLookupResult {
    return this.pass.lookup(query, this);
  }

  lookupPath(path: CanonicalPath, bound: boolean): RouteLookupResult {
    return this.pass.lookupPath(path, bound, this);
  }

  localRouteCovers(family: 4 | 6, bytes: Uint8Array): boolean {
    return this.parts.localRoutes.covers(family, bytes);
  }

  newConnection(path: CanonicalPath, compute: (path: CanonicalPath, env: CheckEnv) => NewConnection | null): NewConnection | null {
    return this.parts.newConnections.get(path, compute, this);
  }

  memo<T>(keys: readonly unknown[], compute: () => T): T {
    return this.pass.memo(keys, compute);
  }

  memo5<T, X, Y, Z>(name: string, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, make: (x: X, y: Y, z: Z) => T, x: X, y: Y, z: Z): T {
    return this.pass.memo5(name, a, b, c, d, e, make, x, y, z);
  }

  shared5<T, X, Y, Z>(name: string, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, make: (x: X, y: Y, z: Z) => T, x: X, y: Y, z: Z): T {
    return this.parts.interned.get5(name, a, b, c, d, e, make, x, y, z);
  }
}
