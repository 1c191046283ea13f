/**
 * ReplaySource: a NetworkSource that plays a recording under a VirtualClock.
 * The state starts from the recorded snapshot and follows the recorded events;
 * lookups are answered with the latest recorded kernel answer to the same query
 * (lookups recorded while an event was handled become visible with that event),
 * and, for queries the recording never made, derived from the replayed state by
 * resolveRoute (main/local tables, no policy rules).
 */
import { EventEmitter } from 'node:events';
import type { RouteQuery } from '../netlink/types';
import type { NetworkSource, RouteLookupResult } from '../netlink/view';
import { VirtualClock } from '../judge/clock';
import { MemoryNetworkState } from './memory-network';
import { lookupKey, type HeaderLine, type RecordingLine, type SnapshotLine } from './recording';
import { resolveRoute } from './route-resolver';

export class ReplaySource extends EventEmitter implements NetworkSource {
  readonly header: HeaderLine;
  readonly state: MemoryNetworkState;
  readonly clock: VirtualClock;
  readonly synced = true;
  /** Lookups answered from the recording / derived from the replayed state. */
  readonly lookupStats = { recorded: 0, derived: 0 };
  private readonly answers = new Map<string, RouteLookupResult>();
  private position = 2;

  constructor(private readonly lines: readonly RecordingLine[]) {
    super();
    this.header = lines[0] as HeaderLine;
    const snapshot = lines[1] as SnapshotLine;
    this.state = new MemoryNetworkState(snapshot, snapshot.time);
    this.clock = new VirtualClock(snapshot.time);
  }

  /** Time of the first and the last line. */
  get startTime(): number {
    return this.lines[1].time;
  }

  get endTime(): number {
    return this.lines[this.lines.length - 1].time;
  }

  /** Number of recorded events. */
  get eventCount(): number {
    return this.lines.filter((l) => l.kind === 'event').length;
  }

  lookupRoute(query: RouteQuery): RouteLookupResult {
    const recorded = this.answers.get(lookupKey(query));
    if (recorded) {
      this.lookupStats.recorded++;
      return recorded;
    }
    this.lookupStats.derived++;
    return resolveRoute(this.state, query, { now: this.clock.now(), expiresAt: (r) => this.state.routeExpiresAt(r) });
  }

  /** Plays lines up to `until` (default: all), firing the listeners' timers in time order on the way. */
  play(until = Infinity): void {
    const lines = this.lines;
    while (this.position < lines.length && lines[this.position].time <= until) {
      const line = lines[this.position++];
      if (line.time > this.clock.now()) this.clock.advanceTo(line.time);
      if (line.kind === 'lookup') {
        this.answers.set(lookupKey(line.query), line.result);
      } else if (line.kind === 'event') {
        // The recorder's own lookups right after this event show the kernel as it then was.
        while (this.position < lines.length) {
          const next = lines[this.position];
          if (next.kind !== 'lookup' || next.time !== line.time) break;
          this.answers.set(lookupKey(next.query), next.result);
          this.position++;
        }
        this.state.apply(line.event);
        this.emit('event', line.event);
      }
    }
    if (until !== Infinity && until > this.clock.now()) this.clock.advanceTo(until);
  }
}
