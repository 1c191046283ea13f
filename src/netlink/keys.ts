/**
 * Identities of kernel objects, as the kernel keys them: a second RTM_NEWADDR or
 * RTM_NEWROUTE with the same key replaces the first. Shared by the in-memory
 * network (replay, tests) and the judge's expiry bookkeeping.
 */
import type { Address, Route } from './types';

/** Identity of an address. */
export function addressKey(a: Address): string {
  return `${a.family}|${a.index}|${a.local ?? a.address}|${a.prefixLength}`;
}

/** Identity of a route (RTM_NEWROUTE with the same key replaces it). */
export function routeKey(r: Route): string {
  return `${r.family}|${r.table}|${r.destination}/${r.destinationLength}|${r.source}/${r.sourceLength}|${r.tos}|${r.metric}`;
}
