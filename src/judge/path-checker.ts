/**
 * The fresh checks of a pass: the check environment over the source (lookups asked
 * once per pass, in batches when the source can batch them), each check's evidence,
 * the re-indexing of the path by interface and next hop, and the hand-over of the
 * finding to VerdictState.
 */
import { RouteQueryBatch } from '../netlink/query-batch';
import { PassCheckEnv, type CheckEnvParts } from './check-env';
import type { RouteLookupResult } from '../netlink/view';
import type { NetworkSource } from '../netlink/view';
import type { LocalRoutes } from './evidence/routes';
import type { ResolvedJudgeOptions } from './hold-downs';
import type { InterfaceHistory } from './interface-history';
import { NewConnections } from './new-connections';
import { queryKey, type LookupWants, type Pass } from './pass';
import { checkPath } from './path-check';
import type { PathEvaluation } from './path-evaluation';
import type { PathIndex } from './path-index';
import { boundQuery, lookupOif, unboundQuery, type CheckEnv } from './path-queries';
import type { CanonicalPath } from './path-spec';
import { TupleMemo } from './tuple-memo';
import type { VerdictState } from './verdict-state';

export type CheckCause = 'event' | 'initial' | 'deadline' | 'expiry' | 'resync';

/** Fewer paths than this in a pass ask their lookups one by one. */
const PREFETCH_MIN = 8;
/** Paths whose lookups go out in one batch (the monitor splits it further to fit its socket). */
const PREFETCH_CHUNK = 512;

export class PathChecker {
  readonly newConnections = new NewConnections();
  readonly stats = { checks: 0, kernelLookups: 0 };
  /**
   * Next hops ("oif|address") that were an IPv6 path's gateway at a good check: the
   * neighbours whose FAILED-ness can move IPv6 lookups between routes (see pass-checks.ts).
   * Bounded: forgotten all at once past 4096.
   */
  readonly gateways6 = new Set<string>();
  /** Route answers and their texts, shared by every path with the same answer (bounded). */
  private readonly interned = new TupleMemo(4096);
  /** Reused for every batch (grown to the largest chunk). */
  private batch: RouteQueryBatch | null = null;
  private readonly envParts: CheckEnvParts;

  constructor(
    private readonly source: NetworkSource,
    private readonly options: ResolvedJudgeOptions,
    private readonly history: InterfaceHistory,
    private readonly localRoutes: LocalRoutes,
    private readonly index: PathIndex<PathEvaluation>,
    private readonly verdicts: VerdictState,
  ) {
    this.envParts = {
      source,
      history,
      options,
      localRoutes,
      newConnections: this.newConnections,
      interned: this.interned,
      stats: this.stats,
    };
  }

  checkAll(set: Iterable<PathEvaluation> | undefined, pass: Pass, cause: CheckCause): void {
    if (!set) return;
    this.checkEach([...set], pass, cause);
  }

  /**
   * Checks paths in chunks whose lookups are asked together: answers live only as
   * long as their chunk (100k answers held for a whole pass made every scavenge copy them).
   */
  checkEach(evs: readonly PathEvaluation[], pass: Pass, cause: CheckCause): void {
    for (let i = 0; i < evs.length; i += PREFETCH_CHUNK) {
      const chunk = evs.slice(i, i + PREFETCH_CHUNK);
      this.prefetch(chunk, pass);
      for (const ev of chunk) this.check(ev, pass, cause);
    }
  }

  /**
   * The paths of a deadline: those still suspect get their deadline's evidence, then
   * their fresh check. The deadline's own steps stay out of checkEach and check: the
   * first deadline of a process is the first time they run, and V8 deoptimizes an
   * optimized function that reaches an operation it never ran ("Insufficient type
   * feedback"), which sent the whole pass of 10k checks back to the interpreter.
   */
  checkDeadline(evs: readonly PathEvaluation[], pass: Pass): void {
    this.checkEach(this.verdicts.deadlineReached(evs, pass), pass, 'deadline');
  }

  /**
   * Viable paths whose only possible change is the source a new connection to their
   * peer would get (another address of their interface came or went): one lookup per
   * peer; a path whose answer moved gets its full check (and its 'changed').
   */
  checkSources(evs: readonly PathEvaluation[], pass: Pass): void {
    const env = this.env(pass);
    for (let i = 0; i < evs.length; i += PREFETCH_CHUNK) {
      const chunk = evs.slice(i, i + PREFETCH_CHUNK);
      this.prefetch(chunk, pass, false);
      const moved: PathEvaluation[] = [];
      for (const ev of chunk) {
        if (ev.state !== 'viable' || pass.checked(ev)) continue;
        const plain = env.lookupPath(ev.path, false);
        const source = plain.ok ? plain.route.preferredSource : null;
        if (source !== (ev.route?.preferredSource ?? null)) moved.push(ev);
      }
      // Their own lookups asked together too: one address can move every peer's source
      // (re-adding the bench's address re-checked 90k paths: 1.8 s one lookup at a time,
      // 0.7-0.85 s in batches).
      this.checkEach(moved, pass, 'event');
    }
  }

  /**
   * Many paths to check in one pass (an address or link event, 10k deadlines at once):
   * their lookups go to the kernel together, when the source can batch them. A path
   * whose address is absent asks only a new connection's lookup (its check stops there).
   */
  prefetch(evs: readonly PathEvaluation[], pass: Pass, ownLookups = true): void {
    if (!this.source.lookupRoutes || evs.length < PREFETCH_MIN) return;
    const view = this.source.state;
    const live = evs.filter((ev) => ev.state !== 'gone');
    pass.prefetch(
      live.map((ev) => ev.path),
      (wants) => this.askMany(wants),
      (path) => ownLookups && view.findAddresses(path.local).length > 0,
      (path) => !ownLookups || !this.newConnections.has(path),
    );
  }

  /** Many lookups at once: packed from the paths' bytes when the source takes a RouteQueryBatch (no strings parsed). */
  private askMany({ paths, bound }: LookupWants): RouteLookupResult[] {
    this.stats.kernelLookups += paths.length;
    const source = this.source;
    if (!source.lookupBatch) return source.lookupRoutes!(paths.map((path, i) => (bound[i] ? boundQuery(path) : unboundQuery(path))));
    const batch = (this.batch ??= new RouteQueryBatch());
    batch.clear();
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i];
      batch.add(path.family, path.remoteBytes, bound[i] ? path.localBytes : null, lookupOif(path), path.mark);
      batch.nameAddresses(path.remote, bound[i] ? path.local : null);
    }
    return source.lookupBatch(batch);
  }

  check(ev: PathEvaluation, pass: Pass, cause: CheckCause): void {
    if (ev.state === 'gone' || pass.checked(ev)) return;
    pass.markChecked(ev);
    this.stats.checks++;
    if (cause === 'event') {
      const entry = pass.eventEntry();
      if (entry) ev.addEvidence(entry);
    }
    const finding = checkPath(ev.path, ev, this.env(pass));
    if (finding.addressIndex !== null) ev.addressIndex = finding.addressIndex;
    if (finding.ok) {
      ev.egress = finding.route.oif;
      ev.sourceOnEgress = finding.sourceOnEgress;
      ev.nextHop = this.index.setNextHop(ev, ev.nextHop, finding.nextHop);
      ev.viaGateway = finding.viaGateway;
      if (ev.nextHop !== null && finding.route.gateway !== null && ev.path.family === 6) this.noteGateway6(ev.nextHop);
    }
    if (ev.addressIndex !== ev.indexedAddress || ev.egress !== ev.indexedEgress) {
      this.index.moveInterfaces(ev, ev.indexedAddress, ev.indexedEgress, ev.addressIndex, ev.egress, ev.path.ifindex, ev.path.boundIfindex);
      ev.indexedAddress = ev.addressIndex;
      ev.indexedEgress = ev.egress;
    }
    if (!finding.ok || ev.lastOk !== true || ev.state !== 'viable' || cause !== 'event') {
      const summary = cause === 'resync' ? `re-checked after a resync: ${finding.summary}` : finding.summary;
      // Paths with the same finding share one entry (a passing check's text names no end of
      // the path; a lost address's names only the address): 10k paths of a lost address keep
      // one copy of its text, not 10k.
      ev.addEvidence(pass.sharedEntry('check', summary));
    }
    ev.lastOk = finding.ok;
    if (finding.ok) this.verdicts.passed(ev, finding, pass);
    else this.verdicts.failed(ev, finding, pass, cause === 'deadline');
  }

  private noteGateway6(hop: string): void {
    const seen = this.gateways6;
    if (seen.has(hop)) return;
    if (seen.size >= 4096) seen.clear();
    seen.add(hop);
  }

  /** Drops a path from the interface and next-hop indexes (it is forgotten). */
  unindex(ev: PathEvaluation): void {
    this.index.leaveInterfaces(ev, ev.indexedAddress, ev.indexedEgress, ev.path.ifindex, ev.path.boundIfindex);
    this.index.setNextHop(ev, ev.nextHop, null);
    ev.indexedAddress = null;
    ev.indexedEgress = null;
    ev.nextHop = null;
  }

  private env(pass: Pass): CheckEnv {
    return (pass.env ??= new PassCheckEnv(this.envParts, pass)) as CheckEnv;
  }
}
