/**
 * The NDJSON recording format (`routeguard record`, `routeguard replay`), and the
 * RecordingSource that writes it: a NetworkSource wrapper that logs every event
 * its inner source emits and every kernel lookup made through it. Lookups made
 * while an event is being handled carry that event's time and follow its line,
 * so a replay can answer them as the kernel did right after the event.
 * Format reference: docs/verdicts.md, "Recording format".
 */
import { EventEmitter } from 'node:events';
import { RouteguardError } from '../errors';
import type { NetworkEvent, RouteQuery } from '../netlink/types';
import type { NetworkSource, RouteLookupResult } from '../netlink/view';
import type { NetworkSnapshot } from './memory-network';
import type { PathSpec } from '../judge/types';
import { eventProblem, headerProblem, lookupProblem, snapshotProblem } from './recording-shapes';

export const RECORDING_FORMAT = 'routeguard-record';
export const RECORDING_VERSION = 1;

export interface HeaderLine {
  kind: 'header';
  format: typeof RECORDING_FORMAT;
  version: typeof RECORDING_VERSION;
  time: number;
  netns: string | null;
  /** Paths the recorder watched (their lookups are in the recording). */
  paths: PathSpec[];
  /** Period of the recorder's probe lookups for those paths; null when none. */
  probeIntervalMs: number | null;
}
export interface SnapshotLine extends NetworkSnapshot {
  kind: 'snapshot';
  time: number;
}
export interface EventLine {
  kind: 'event';
  time: number;
  event: NetworkEvent;
}
export interface LookupLine {
  kind: 'lookup';
  time: number;
  query: RouteQuery;
  result: RouteLookupResult;
}
export interface EndLine {
  kind: 'end';
  time: number;
}
export type RecordingLine = HeaderLine | SnapshotLine | EventLine | LookupLine | EndLine;

/** Key of a lookup query: equal queries share recorded answers. */
export function lookupKey(q: RouteQuery): string {
  return `${q.to}|${q.from ?? ''}|${q.oif ?? ''}|${q.iif ?? ''}|${q.mark ?? ''}|${q.uid ?? ''}`;
}

function bad(lineNo: number, what: string): never {
  throw new RouteguardError('ERR_BAD_RECORDING', `recording line ${lineNo}: ${what}`);
}

/** A line left out of a replay, and why. */
export interface SkippedLine {
  line: number;
  why: string;
}

/**
 * Parses and checks a recording; errors (code ERR_BAD_RECORDING) name the line and
 * the field. Every line must be good: see readRecording for a recording to replay
 * around its bad lines.
 */
export function parseRecording(text: string): RecordingLine[] {
  return scanRecording(text, (lineNo, why) => bad(lineNo, why));
}

/**
 * Reads a recording for replay. A bad header or snapshot is an error (nothing can be
 * replayed without them); a bad line after them (a last line cut short by a recorder
 * that was killed, one edited by hand) is left out and listed in `skipped`.
 */
export function readRecording(text: string): { lines: RecordingLine[]; skipped: SkippedLine[] } {
  const skipped: SkippedLine[] = [];
  const lines = scanRecording(text, (lineNo, why, afterSnapshot) => {
    if (!afterSnapshot) bad(lineNo, why);
    skipped.push({ line: lineNo, why });
  });
  return { lines, skipped };
}

/** `onBad` throws, or returns to leave the line out. */
function scanRecording(text: string, onBad: (lineNo: number, why: string, afterSnapshot: boolean) => void): RecordingLine[] {
  const lines: RecordingLine[] = [];
  let lastTime = -Infinity;
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const why = lineProblem(raw, lines, lastTime);
    if (typeof why === 'string') {
      onBad(i + 1, why, lines.length >= 2);
      return;
    }
    lines.push(why);
    lastTime = why.time;
  });
  if (lines.length < 2) bad(lines.length + 1, 'a recording needs a header and a snapshot');
  return lines;
}

/** The parsed line, or why it is bad. */
function lineProblem(raw: string, before: readonly RecordingLine[], lastTime: number): RecordingLine | string {
  let line: RecordingLine;
  try {
    line = JSON.parse(raw) as RecordingLine;
  } catch {
    return 'not JSON';
  }
  if (typeof line !== 'object' || line === null || typeof line.time !== 'number') return 'missing "time"';
  // Replayed on a clock that only moves forward: a time from the past would be read as now.
  if (!Number.isFinite(line.time) || line.time < lastTime) return `time ${line.time} is not a finite time at or after the line before (${lastTime})`;
  if (before.length === 0 && line.kind !== 'header') return `starts with "${String(line.kind)}", not a header`;
  switch (line.kind) {
    case 'header':
      if (before.length !== 0) return 'header must be the first line';
      if (line.format !== RECORDING_FORMAT || line.version !== RECORDING_VERSION) return `not a ${RECORDING_FORMAT} version ${RECORDING_VERSION} file`;
      return headerProblem(line as unknown as Record<string, unknown>) ?? line;
    case 'snapshot':
      if (before.length !== 1) return 'snapshot must follow the header';
      return snapshotProblem(line as unknown as Record<string, unknown>) ?? line;
    case 'event':
      if (before.length < 2) return 'an event before the snapshot';
      return eventProblem(line.event) ?? line;
    case 'lookup':
      if (before.length < 2) return 'a lookup before the snapshot';
      return lookupProblem(line.query, line.result) ?? line;
    case 'end':
      return line;
    default:
      return `unknown kind ${JSON.stringify((line as { kind?: unknown }).kind)}`;
  }
}

/** Wraps a live source, writing what flows through it as recording lines. */
export class RecordingSource extends EventEmitter implements NetworkSource {
  private handlingEventAt: number | null = null;
  private readonly forwardClose = () => this.emit('close');
  private readonly forward = (event: NetworkEvent) => {
    this.write({ kind: 'event', time: event.time, event });
    this.handlingEventAt = event.time;
    try {
      this.emit('event', event);
    } finally {
      this.handlingEventAt = null;
    }
  };

  constructor(
    private readonly inner: NetworkSource,
    private readonly write: (line: RecordingLine) => void,
    private readonly clock: { now(): number },
  ) {
    super();
  }

  get state(): NetworkSource['state'] {
    return this.inner.state;
  }

  get synced(): boolean {
    return this.inner.synced;
  }

  /** Writes the header and the snapshot of the (synced) inner source, then starts forwarding events. */
  begin(header: Omit<HeaderLine, 'kind' | 'format' | 'version' | 'time'>): void {
    const time = this.clock.now();
    this.write({ kind: 'header', format: RECORDING_FORMAT, version: RECORDING_VERSION, time, ...header });
    const s = this.inner.state;
    const snapshot: NetworkSnapshot = {
      links: [...s.links()],
      addresses: [...s.addresses()],
      routes: [...s.routes()],
      nexthops: [...s.nexthops()],
      rules: [...s.rules(4), ...s.rules(6)],
      neighbours: [...s.neighbours()],
    };
    this.write({ kind: 'snapshot', time, ...snapshot });
    this.inner.on('event', this.forward);
    this.inner.on('close', this.forwardClose);
  }

  /** Writes the end line and stops forwarding. */
  end(): void {
    this.inner.off('event', this.forward);
    this.inner.off('close', this.forwardClose);
    this.write({ kind: 'end', time: this.clock.now() });
  }

  lookupRoute(query: RouteQuery): RouteLookupResult {
    const result = this.inner.lookupRoute(query);
    this.write({ kind: 'lookup', time: this.handlingEventAt ?? this.clock.now(), query, result });
    return result;
  }
}
