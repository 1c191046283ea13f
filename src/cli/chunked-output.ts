/**
 * Text to a stream in ~64 KiB chunks, waiting for 'drain' when the stream is full: the
 * dump of a million routes is written as it is produced, never held as one string
 * (that string alone would be ~500 MB of JSON, past V8's string length limit).
 */
import { once } from 'node:events';
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

const CHUNK_CHARS = 1 << 16;

export class ChunkedOutput {
  private parts: string[] = [];
  private chars = 0;

  constructor(private readonly stream: Writable) {}

  /** Adds text; true when a chunk is full and the caller should `await flush()`. */
  add(text: string): boolean {
    this.parts.push(text);
    this.chars += text.length;
    return this.chars >= CHUNK_CHARS;
  }

  /**
   * Writes what is buffered without waiting (from a callback that cannot await). Writes
   * to files and pipes are synchronous for process.stdout on Linux, so nothing piles up.
   */
  flushNow(): void {
    if (this.parts.length === 0) return;
    this.stream.write(this.parts.join(''));
    this.parts = [];
    this.chars = 0;
  }

  /**
   * Writes what is buffered, then `bytes`: memory its producer reuses once this returns
   * (onDumpedRoutesJson). Straight to the stream's descriptor when it has one and nothing
   * is queued in front (process.stdout: its writes to files and pipes are synchronous on
   * Linux anyway), so a dump's ~320 MB are neither copied nor held until GC; otherwise
   * (another stream, a full non-blocking pipe, an error) a copy goes through the stream,
   * which queues it and reports errors its usual way.
   */
  writeTransient(bytes: Uint8Array): void {
    this.flushNow();
    const fd = (this.stream as { fd?: unknown }).fd;
    let done = 0;
    if (typeof fd === 'number' && this.stream.writableLength === 0) {
      try {
        while (done < bytes.length) done += writeSync(fd, bytes, done);
      } catch {
        // EAGAIN, EPIPE...: the rest goes through the stream below.
      }
    }
    if (done < bytes.length) this.stream.write(Buffer.from(bytes.subarray(done)));
  }

  /** Writes what is buffered; resolves once the stream can take more. */
  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.chars = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  /** addAll() from a callback that cannot await: full chunks are written with flushNow(). */
  addAllNow<T>(items: Iterable<T>, text: (item: T) => string, separator: string): void {
    let first = true;
    for (const item of items) {
      if (this.add(first ? text(item) : separator + text(item))) this.flushNow();
      first = false;
    }
  }

  /** Adds each item's text, separated by `separator`, flushing as chunks fill. */
  async addAll<T>(items: Iterable<T>, text: (item: T) => string, separator: string): Promise<void> {
    let first = true;
    for (const item of items) {
      if (this.add(first ? text(item) : separator + text(item))) await this.flush();
      first = false;
    }
  }
}
