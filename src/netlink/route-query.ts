/**
 * Validation of the public RouteQuery (strings) into address bytes, shared by
 * NetlinkMonitor.lookupRoute (one query) and lookupRoutes (many, packed).
 */
import { InvalidArgumentError } from '../errors';
import { parseIp } from './ip';
import type { RouteQuery } from './types';

export interface ParsedRouteQuery {
  family: 4 | 6;
  /** 16 bytes; IPv4 in the first 4. */
  to: Uint8Array;
  from: Uint8Array | undefined;
}

const U32_KEYS = ['oif', 'iif', 'mark', 'uid'] as const;

/** Throws InvalidArgumentError prefixed with `where` ("lookupRoute", "lookupRoutes: queries[3]"). */
export function parseRouteQuery(query: RouteQuery, where: string): ParsedRouteQuery {
  const to = parseIp(query?.to ?? '');
  if (!to) throw new InvalidArgumentError(`${where}: "to" must be an IP address, got ${JSON.stringify(query?.to)}`);
  let from: Uint8Array | undefined;
  if (query.from !== undefined) {
    const parsed = parseIp(query.from);
    if (!parsed || parsed.family !== to.family) {
      throw new InvalidArgumentError(
        `${where}: "from" must be an IPv${to.family} address like "to", got ${JSON.stringify(query.from)}`,
      );
    }
    from = parsed.bytes;
  }
  for (const key of U32_KEYS) {
    const v = query[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw new InvalidArgumentError(`${where}: "${key}" must be an unsigned 32-bit integer, got ${v}`);
    }
  }
  return { family: to.family, to: to.bytes, from };
}
