/**
 * ChunkedOutput.writeTransient: a chunk whose memory the producer reuses at once
 * (onDumpedRoutesJson) must reach the output as it was, in order after the text
 * buffered before it, whichever way it goes: straight to a descriptor, or copied
 * through the stream.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ChunkedOutput } from '../src/cli/chunked-output';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rg-chunked-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A stream that keeps what it is given (as a test harness or a collecting pipe would). */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

it('copies the chunk for a stream without a descriptor: reusing the memory afterwards changes nothing', async () => {
  const stream = new Collector();
  const out = new ChunkedOutput(stream);
  const reused = Buffer.from('one');
  out.add('[');
  out.writeTransient(reused);
  reused.write('two');
  out.writeTransient(reused);
  reused.fill(0);
  out.add(']');
  await out.flush();
  expect(stream.text()).toBe('[onetwo]');
});

it('writes the chunk straight to the descriptor of an idle file stream, and text after it follows', async () => {
  const file = path.join(dir, 'out.json');
  const stream = fs.createWriteStream(file);
  await once(stream, 'open');
  const write = stream.write.bind(stream);
  let streamWrites = 0;
  stream.write = ((...args: Parameters<typeof write>) => (streamWrites++, write(...args))) as typeof stream.write;
  const out = new ChunkedOutput(stream);
  const reused = Buffer.alloc(300_000, 'a');
  out.writeTransient(reused);
  reused.fill('b');
  out.writeTransient(reused.subarray(0, 5));
  expect(streamWrites).toBe(0); // both went to the descriptor
  out.add('}');
  await out.flush();
  stream.end();
  await once(stream, 'close');
  expect(readFileSync(file, 'utf8')).toBe(`${'a'.repeat(300_000)}bbbbb}`);
});

it('copies the chunk when the stream still holds text of its own in front of it', async () => {
  const file = path.join(dir, 'queued.json');
  const stream = fs.createWriteStream(file);
  await once(stream, 'open');
  const out = new ChunkedOutput(stream);
  const reused = Buffer.from('chunk');
  out.add('{');
  out.writeTransient(reused); // '{' is still being written (fs.WriteStream is asynchronous)
  reused.fill('x');
  out.add('}');
  await out.flush();
  stream.end();
  await once(stream, 'close');
  expect(readFileSync(file, 'utf8')).toBe('{chunk}');
});

it('falls back to a copy through the stream when the descriptor cannot be written', async () => {
  // fd -1: write(2) fails with EBADF, as it would fail with EAGAIN on a full non-blocking pipe.
  const stream = Object.assign(new Collector(), { fd: -1 });
  const out = new ChunkedOutput(stream);
  const reused = Buffer.from('kept');
  out.writeTransient(reused);
  reused.fill(0);
  await out.flush();
  expect(stream.text()).toBe('kept');
});
