/**
 * Reads the answers of a batch of route lookups (the addon's lookupMany/getMany):
 * one record per query, in query order — a route (Kind.RouteNew) or a failure
 * (Kind.LookupError) — into the results lookupRoute() returns one at a time.
 */
import { forEachRecord, readRoute, viewOf, type AddressNames } from './decode';
import { Kind } from './record-format';
import type { RouteLookupResult } from './view';

const utf8 = new TextDecoder();

/** `names`: the batch's texts of its queries' addresses, reused by the answers (RouteQueryBatch.nameAddresses). */
export function readLookupAnswers(buffer: ArrayBuffer, count: number, names: AddressNames | null = null): RouteLookupResult[] {
  const view = viewOf(buffer);
  const results: RouteLookupResult[] = [];
  forEachRecord(view, (kind, _flags, p) => {
    if (kind === Kind.RouteNew) {
      results.push({ ok: true, route: readRoute(view, p, null, names, results.length) });
    } else if (kind === Kind.LookupError) {
      const errno = view.u32[p];
      const codeLength = view.u32[p + 1];
      const start = (p + 3) * 4;
      const code = utf8.decode(view.u8.subarray(start, start + codeLength));
      const message = utf8.decode(view.u8.subarray(start + codeLength, start + codeLength + view.u32[p + 2]));
      results.push({ ok: false, code, errno, message });
    } else {
      throw new Error(`routeguard: lookup answers hold a record of kind ${kind} (a format mismatch)`);
    }
  });
  // One answer per query is the addon's contract: anything else is a format mismatch.
  if (results.length !== count) {
    throw new Error(`routeguard: ${results.length} lookup answers for ${count} queries (a format mismatch)`);
  }
  return results;
}
