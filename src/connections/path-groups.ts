/**
 * The guard's connections grouped by path: every connection on one path shares one
 * judge watch (and so one verdict); a group's watch closes with its last member.
 */
import type { Clock, PathWatch, PathSpec } from '../judge/types';
import type { NetworkSource } from '../netlink/view';
import type { PathJudgeLike } from './connection-guard';
import type { Logger } from './logger';
import type { SocketEvidence } from './socket-evidence';
import { egressInterface, type DerivedPath, type SocketAddresses } from './socket-path';
import type { EgressInterface, PathVerdict, TrackedConnection } from './tracked-connection';

/** One watched path and the connections on it. */
export interface PathGroup {
  readonly key: string;
  readonly spec: Readonly<PathSpec>;
  readonly watch: PathWatch;
  readonly egress: EgressInterface | null;
  readonly members: Set<TrackedConnection>;
}

export interface PathGroupsOptions {
  judge: PathJudgeLike;
  source: NetworkSource | null;
  sockets: SocketEvidence;
  clock: Clock;
  log: Logger;
  /** Each verdict of a group's watch. Runs inside the judge's emit: must not throw. */
  onVerdict: (group: PathGroup, verdict: PathVerdict) => void;
}

export class PathGroups {
  private readonly groups = new Map<string, PathGroup>();
  private readonly groupOf = new Map<TrackedConnection, PathGroup>();

  constructor(private readonly o: PathGroupsOptions) {}

  /** Distinct paths watched now. */
  get size(): number {
    return this.groups.size;
  }

  /** The live group of a path, or a new one with its own watch. Throws what judge.watch() throws. */
  groupFor(path: DerivedPath): PathGroup {
    const existing = this.groups.get(path.key);
    if (existing) return existing;
    const { source, onVerdict } = this.o;
    const watch = this.o.judge.watch(path.spec);
    const index = egressInterface(path.spec, source);
    const group: PathGroup = {
      key: path.key,
      spec: watch.path ?? path.spec,
      watch,
      egress: index === null ? null : { index, name: source?.state.link(index)?.name ?? null },
      members: new Set(),
    };
    watch.on('suspect', (info) => onVerdict(group, { type: 'suspect', info }));
    watch.on('recovered', (info) => onVerdict(group, { type: 'recovered', info }));
    watch.on('changed', (info) => onVerdict(group, { type: 'changed', info }));
    watch.on('gone', (info) => onVerdict(group, { type: 'gone', info }));
    // The judge's source closed: these connections are no longer judged (nothing is closed for it).
    watch.on('ended', (info) => this.o.log.warn({ path: group.spec, code: info.code }, info.message));
    this.groups.set(path.key, group);
    // A path already broken at watch time starts suspect without an event.
    if (watch.state === 'suspect') this.o.sockets.suspect(group, this.o.clock.now());
    return group;
  }

  join(tracked: TrackedConnection, group: PathGroup, addresses: SocketAddresses): void {
    group.members.add(tracked);
    this.groupOf.set(tracked, group);
    tracked.watching(group.spec, group.key, addresses, group.egress, group.watch.state);
    this.o.sockets.joined(group, tracked);
  }

  /** Takes a connection out of its group (its watch stays open for the others). */
  detach(tracked: TrackedConnection, group: PathGroup): void {
    group.members.delete(tracked);
    this.groupOf.delete(tracked);
  }

  /** Takes a connection out of its group, if any; the group's watch closes with its last member. */
  leave(tracked: TrackedConnection): void {
    const group = this.groupOf.get(tracked);
    if (!group) return;
    this.detach(tracked, group);
    if (group.members.size > 0) return;
    group.watch.close();
    this.retire(group);
  }

  /** Connections made from now on get a fresh watch of their own. */
  retire(group: PathGroup): void {
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
  }

  clear(): void {
    this.groups.clear();
  }
}
