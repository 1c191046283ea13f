/**
 * Dumped routes as JSON text, chunk by chunk, from record batches (routes: 'stream' with
 * onDumpedRoutesJson). The addon writes the text straight from the records into one
 * reused buffer: no Route object, no string, no fresh memory per chunk. A million routes
 * are ~320 MB of JSON; fresh buffers for it cost more page faults and copies than the
 * formatting itself (BENCHMARKS.md).
 */
import { loadBinding } from './binding';

/** Chunks of about this size (a route's text is ~320 bytes): few writes, and the buffer stays in cache. */
const CHUNK_BYTES = 256 * 1024;

/**
 * A batch consumer for NetworkState's onDumpedRouteRecords that hands `onJson` each chunk
 * of text. The chunk is a view of a buffer reused for the next one: valid during the call.
 */
export function routeJsonChunker(onJson: (json: Buffer) => void): (batch: ArrayBuffer, byteLength: number) => void {
  let out: Buffer | null = null; // allocated with the first batch: a monitor that never dumps needs none
  return (batch, byteLength) => {
    const binding = loadBinding(); // loaded already: batches come from it
    out ??= Buffer.allocUnsafeSlow(CHUNK_BYTES);
    for (let at = 0; at < byteLength; ) {
      const { written, next, needed } = binding.routeJson(batch, byteLength, at, out);
      if (written > 0) onJson(out.subarray(0, written));
      // A multipath route with thousands of nexthops may need more than a chunk.
      if (needed > out.length) out = Buffer.allocUnsafeSlow(needed);
      at = next;
    }
  };
}
