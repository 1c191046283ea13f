/**
 * PathJudge: decides, for each watched path, whether it is viable, suspect
 * (evidence says it may be broken; waiting out the hold-down) or gone (the
 * hold-down ended and a fresh check still fails), and why. Consumes only a
 * NetworkSource, so it runs alike on a live monitor, a fake network and a replay.
 *
 * Data flow: event -> PathIndex (the paths it can affect) -> checkPath (fresh
 * facts) -> the state rules below -> notifications, emitted once the pass is done.
 */
import { RouteguardError } from '../errors';
import { parseIp } from '../netlink/ip';
import type { Address, NetworkEvent, Route, RouteQuery } from '../netlink/types';
import type { NetworkSource, RouteLookupResult } from '../netlink/view';
import { realClock } from './clock';
import { describeEvent, linkLabel } from './evidence-log';
import { routeKey } from '../netlink/keys';
import { resolveJudgeOptions, VERDICT_REASONS, type ResolvedJudgeOptions } from './hold-downs';
import { addressText, InterfaceHistory, linkIsUp } from './interface-history';
import { checkPath, unboundQuery, type CheckEnv, type Finding, type PathFailure, type PathOk } from './path-check';
import { PathEvaluation, WatchHandle } from './path-evaluation';
import { PathIndex } from './path-index';
import { normalizePathSpec } from './path-spec';
import { TimerQueue, type TimerEntry } from './timer-queue';
import type {
  Clock,
  EvidenceEntry,
  JudgeCounters,
  JudgeOptions,
  PathRoute,
  PathSpec,
  PathWatch,
  ReasonCounts,
  VerdictReason,
} from './types';

type TimerItem =
  | { kind: 'deadline'; ev: PathEvaluation }
  | { kind: 'address-expiry'; local: string; index: number }
  | { kind: 'route-expiry'; route: Route };

type CheckCause = 'event' | 'initial' | 'deadline' | 'expiry' | 'resync';

/** Reasons whose hold-down may be extended while the interface is reconfiguring. */
const EXTENDABLE: ReadonlySet<VerdictReason> = new Set(['local-address-removed', 'no-route', 'unreachable']);

/** One event or timer batch: lookups memoised, each path checked once, notifications held until the end. */
class Pass {
  readonly lookups = new Map<string, RouteLookupResult>();
  readonly facts = new Map<string, unknown>();
  env: CheckEnv | null = null;
  readonly checked = new Set<PathEvaluation>();
  readonly notifications: Array<() => unknown[]> = [];
  private entry: EvidenceEntry | null = null;

  constructor(
    readonly now: number,
    private readonly describe: (() => string) | null = null,
    private readonly event?: NetworkEvent,
  ) {}

  /** The evidence entry of the event being handled, built once and shared by every path it touches. */
  eventEntry(): EvidenceEntry | null {
    if (!this.describe) return null;
    this.entry ??= { time: this.now, kind: 'event', summary: this.describe(), event: this.event };
    return this.entry;
  }
}

function zeroCounts(): ReasonCounts {
  return Object.fromEntries(VERDICT_REASONS.map((r) => [r, 0])) as ReasonCounts;
}

/** An RTM_NEWADDR that only refreshed lifetimes (DHCP renew, every RA). */
function onlyLifetimesChanged(a: Address, b: Address): boolean {
  return a.flags === b.flags && a.scope === b.scope && a.prefixLength === b.prefixLength && a.local === b.local &&
    a.address === b.address;
}

function onlyExpiryChanged(a: Route, b: Route): boolean {
  return JSON.stringify({ ...a, expires: null }) === JSON.stringify({ ...b, expires: null });
}

function queryKey(q: RouteQuery): string {
  return `${q.to}|${q.from ?? ''}|${q.oif ?? ''}|${q.mark ?? ''}`;
}

function describeRoute(r: PathRoute, view: NetworkSource['state']): string {
  return `dev ${linkLabel(view, r.oif)}${r.gateway ? ` via ${r.gateway}` : ''}, source ${r.preferredSource ?? 'unknown'}`;
}

export class PathJudge {
  private readonly options: ResolvedJudgeOptions;
  private readonly clock: Clock;
  private readonly history = new InterfaceHistory();
  private readonly index = new PathIndex<PathEvaluation>();
  private readonly evaluations = new Map<string, PathEvaluation>();
  private readonly suspects = new Set<PathEvaluation>();
  private readonly timers: TimerQueue<TimerItem>;
  private readonly addressExpiries = new Map<string, TimerEntry<TimerItem>>();
  private readonly routeExpiries = new Map<string, TimerEntry<TimerItem>>();
  private readonly stats = {
    watches: 0,
    events: 0,
    checks: 0,
    kernelLookups: 0,
    suspected: zeroCounts(),
    churnSuppressed: zeroCounts(),
    confirmations: 0,
    earlyConfirmations: 0,
    extensions: 0,
    gone: zeroCounts(),
    changed: 0,
  };
  private started = false;
  private closed = false;
  private readonly listener = (event: NetworkEvent) => this.onEvent(event);

  constructor(
    private readonly source: NetworkSource,
    options: JudgeOptions = {},
  ) {
    this.options = resolveJudgeOptions(options);
    this.clock = options.clock ?? realClock;
    this.timers = new TimerQueue(this.clock, (due) => this.onTimers(due));
    source.on('event', this.listener);
    if (source.synced) this.start();
  }

  /**
   * Watches a path. Watchers of the same path (same local, remote, ifindex, mark)
   * share one evaluation. The state at watch time is in `watch.state`; events
   * report what changes afterwards. A gone path stays gone: a later watch() of the
   * same path starts a fresh evaluation.
   */
  watch(spec: PathSpec): PathWatch {
    if (this.closed) throw new RouteguardError('ERR_JUDGE_CLOSED', 'watch(): the judge is closed');
    const path = normalizePathSpec(spec);
    let ev = this.evaluations.get(path.key);
    const fresh = !ev;
    if (!ev) {
      ev = new PathEvaluation(path, this.options.evidenceLimit);
      this.evaluations.set(path.key, ev);
      this.index.add(ev);
    }
    const handle = new WatchHandle(ev, (_h, released) => this.release(released));
    this.stats.watches++;
    if (fresh && this.started) {
      const pass = new Pass(this.clock.now());
      this.check(ev, pass, 'initial');
      this.scheduleAddressExpiries(path.local);
      this.finish(pass);
    }
    return handle;
  }

  counters(): JudgeCounters {
    const s = this.stats;
    return {
      watches: s.watches,
      paths: this.evaluations.size,
      events: s.events,
      checks: s.checks,
      kernelLookups: s.kernelLookups,
      suspected: { ...s.suspected },
      churnSuppressed: { ...s.churnSuppressed },
      confirmations: s.confirmations,
      earlyConfirmations: s.earlyConfirmations,
      extensions: s.extensions,
      verdicts: { gone: { ...s.gone }, changed: s.changed },
    };
  }

  /** Stops listening and cancels every timer; handles keep their last state. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.off('event', this.listener);
    this.timers.stop();
    this.suspects.clear();
  }

  // ---- lifecycle ----

  private start(): void {
    this.started = true;
    const now = this.clock.now();
    const view = this.source.state;
    this.history.seed(view, now);
    for (const r of view.routes()) if (r.expires !== null) this.trackRouteExpiry(r, false, now);
    const pass = new Pass(now);
    for (const ev of this.evaluations.values()) {
      this.check(ev, pass, 'initial');
      this.scheduleAddressExpiries(ev.path.local);
    }
    this.finish(pass);
  }

  private release(ev: PathEvaluation): void {
    this.stats.watches--;
    if (ev.handles.size > 0) return;
    this.forget(ev);
  }

  /** Drops an evaluation from the indexes and timers (its handles keep their last state). */
  private forget(ev: PathEvaluation): void {
    if (this.evaluations.get(ev.path.key) === ev) this.evaluations.delete(ev.path.key);
    this.index.remove(ev);
    this.index.setInterfaces(ev, ev.interfaces, []);
    ev.interfaces = [];
    this.timers.cancel(ev.timer);
    ev.timer = null;
    this.suspects.delete(ev);
    if (!this.index.withLocal(ev.path.local)) {
      for (const [key, entry] of this.addressExpiries) {
        if ((entry.item as { local: string }).local === ev.path.local) {
          this.timers.cancel(entry);
          this.addressExpiries.delete(key);
        }
      }
    }
  }

  // ---- events ----

  private onEvent(event: NetworkEvent): void {
    if (this.closed) return;
    this.stats.events++;
    if (event.type === 'synced') {
      if (!this.started) this.start();
      return;
    }
    if (!this.started || event.type === 'dropped') return;
    const view = this.source.state;
    const pass = new Pass(this.clock.now(), event.type === 'resync' ? null : () => describeEvent(event, view), event);
    switch (event.type) {
      case 'address':
        this.onAddress(event.address, event.action === 'removed', event.action === 'changed' ? event.previous : null, pass);
        break;
      case 'link': {
        const { link, previous } = event;
        this.history.onLink(link, event.action === 'removed', pass.now);
        if (event.action === 'changed' && previous && linkIsUp(previous) === linkIsUp(link)) break;
        this.checkAll(this.index.onInterface(link.index), pass, 'event');
        break;
      }
      case 'route': {
        const { route, previous } = event;
        this.trackRouteExpiry(route, event.action === 'removed', pass.now);
        if (event.action === 'changed' && previous && onlyExpiryChanged(previous, route)) break;
        this.checkCovered(route, pass, 'event');
        break;
      }
      case 'nexthop': {
        const oifs = new Set<number>();
        for (const nh of [event.nexthop, event.previous]) {
          if (nh?.oif != null) oifs.add(nh.oif);
          for (const m of nh?.group ?? []) {
            const member = view.nexthop(m.id)?.oif;
            if (member != null) oifs.add(member);
          }
        }
        for (const oif of oifs) this.checkAll(this.index.onInterface(oif), pass, 'event');
        break;
      }
      case 'resync':
        // The differences came just before as ordinary events. Re-check the open windows
        // against the kernel, keeping their start, deadline and evidence: a resync is
        // neither churn nor a loss.
        this.checkAll(this.suspects, pass, 'resync');
        break;
    }
    this.finish(pass);
  }

  private onAddress(a: Address, removed: boolean, previous: Address | null, pass: Pass): void {
    this.history.onAddress(a, removed, pass.now);
    const text = addressText(a);
    const refreshOnly = previous !== null && onlyLifetimesChanged(previous, a);
    const own = this.index.withLocal(text);
    if (own) {
      this.scheduleAddressExpiry(a.index, text, removed);
      for (const ev of [...own]) if (!refreshOnly || ev.state !== 'viable') this.check(ev, pass, 'event');
    }
    if (refreshOnly) return;
    // Another address on the interface came, went or changed state: suspect paths there
    // may see replacement or the end of a reconfiguration; viable ones may get another source.
    const onInterface = this.index.onInterface(a.index);
    if (!onInterface) return;
    for (const ev of [...onInterface]) {
      if (ev.state === 'suspect') this.check(ev, pass, 'event');
      else if (ev.state === 'viable') this.refreshSource(ev, pass);
    }
  }

  private onTimers(due: TimerItem[]): void {
    if (this.closed) return;
    const pass = new Pass(this.clock.now());
    const view = this.source.state;
    for (const item of due) {
      switch (item.kind) {
        case 'deadline': {
          const ev = item.ev;
          ev.timer = null;
          const w = ev.window;
          if (ev.state !== 'suspect' || !w) break;
          this.stats.confirmations++;
          ev.evidence.add({
            time: pass.now,
            kind: 'timer',
            summary: `${w.extended ? 'extended patience' : `hold-down for ${w.reason}`} ended after ${pass.now - w.start} ms: fresh check`,
          });
          this.check(ev, pass, 'deadline');
          break;
        }
        case 'address-expiry': {
          this.addressExpiries.delete(`${item.index}|${item.local}`);
          const summary = `valid lifetime of ${item.local} on ${linkLabel(view, item.index)} ends now`;
          for (const ev of [...(this.index.withLocal(item.local) ?? [])]) {
            ev.evidence.add({ time: pass.now, kind: 'timer', summary });
            this.check(ev, pass, 'expiry');
          }
          break;
        }
        case 'route-expiry': {
          const r = item.route;
          this.routeExpiries.delete(routeKey(r));
          const summary = `route ${r.destination}/${r.destinationLength} (table ${r.table}) reached its expiry; the kernel deletes it lazily`;
          const bytes = parseIp(r.destination)?.bytes;
          if (!bytes) break;
          this.index.forEachCovered(r.family, bytes, r.destinationLength, (ev) => {
            if (pass.checked.has(ev)) return;
            ev.evidence.add({ time: pass.now, kind: 'timer', summary });
            this.check(ev, pass, 'expiry');
          });
          break;
        }
      }
    }
    this.finish(pass);
  }

  private checkAll(set: Iterable<PathEvaluation> | undefined, pass: Pass, cause: CheckCause): void {
    if (set) for (const ev of [...set]) this.check(ev, pass, cause);
  }

  private checkCovered(route: Route, pass: Pass, cause: CheckCause): void {
    const bytes = parseIp(route.destination)?.bytes;
    if (!bytes) return;
    const affected: PathEvaluation[] = [];
    this.index.forEachCovered(route.family, bytes, route.destinationLength, (ev) => affected.push(ev));
    for (const ev of affected) this.check(ev, pass, cause);
  }

  // ---- the rules ----

  private env(pass: Pass): CheckEnv {
    return (pass.env ??= {
      view: this.source.state,
      history: this.history,
      options: this.options,
      now: pass.now,
      lookup: (q) => this.lookup(q, pass),
      memo: <T>(key: string, compute: () => T): T => {
        if (!pass.facts.has(key)) pass.facts.set(key, compute());
        return pass.facts.get(key) as T;
      },
    });
  }

  private lookup(q: RouteQuery, pass: Pass): RouteLookupResult {
    const key = queryKey(q);
    let r = pass.lookups.get(key);
    if (!r) {
      this.stats.kernelLookups++;
      r = this.source.lookupRoute(q);
      pass.lookups.set(key, r);
    }
    return r;
  }

  private check(ev: PathEvaluation, pass: Pass, cause: CheckCause): void {
    if (ev.state === 'gone' || pass.checked.has(ev)) return;
    pass.checked.add(ev);
    this.stats.checks++;
    if (cause === 'event') {
      const entry = pass.eventEntry();
      if (entry) ev.evidence.add(entry);
    }
    const finding = checkPath(
      ev.path,
      { addressIndex: ev.addressIndex, egress: ev.egress, windowStart: ev.window?.start ?? null },
      this.env(pass),
    );
    this.remember(ev, finding);
    if (!finding.ok || ev.lastOk !== true || ev.state !== 'viable' || cause !== 'event') {
      const prefix = cause === 'resync' ? 're-checked after a resync: ' : '';
      ev.evidence.add({ time: pass.now, kind: 'check', summary: `${prefix}${finding.summary}` });
    }
    ev.lastOk = finding.ok;
    if (finding.ok) {
      if (ev.state === 'suspect') this.recover(ev, pass);
      this.updateRoute(ev, finding, pass);
    } else if (ev.state === 'viable') {
      this.suspect(ev, finding, pass);
    } else {
      this.stillSuspect(ev, finding, pass, cause);
    }
  }

  private remember(ev: PathEvaluation, f: Finding): void {
    if (f.addressIndex !== null) ev.addressIndex = f.addressIndex;
    if (f.ok) ev.egress = f.route.oif;
    const wanted = ev.wantedInterfaces();
    if (wanted.length === ev.interfaces.length && wanted.every((i) => ev.interfaces.includes(i))) return;
    this.index.setInterfaces(ev, ev.interfaces, wanted);
    ev.interfaces = wanted;
  }

  private schedule(ev: PathEvaluation): void {
    const at = ev.window!.deadline;
    ev.timer = this.timers.schedule(at, (ev.timer?.item as TimerItem) ?? { kind: 'deadline', ev }, ev.timer as TimerEntry<TimerItem>);
  }

  private notify(ev: PathEvaluation, pass: Pass, emit: () => unknown[]): void {
    pass.notifications.push(emit);
  }

  private suspect(ev: PathEvaluation, f: PathFailure, pass: Pass): void {
    const deadline = pass.now + this.options.holdDowns[f.reason];
    ev.window = { start: pass.now, reason: f.reason, deadline, extended: false };
    ev.state = 'suspect';
    ev.reason = f.reason;
    this.stats.suspected[f.reason]++;
    this.suspects.add(ev);
    this.schedule(ev);
    ev.evidence.add({ time: pass.now, kind: 'state', summary: `suspect (${f.reason}); fresh check in ${deadline - pass.now} ms` });
    const info = { reason: f.reason, deadline, evidence: ev.windowEvidence() };
    this.notify(ev, pass, () => ev.emit('suspect', info));
  }

  private stillSuspect(ev: PathEvaluation, f: PathFailure, pass: Pass, cause: CheckCause): void {
    const w = ev.window!;
    const now = pass.now;
    if (f.reason !== w.reason) {
      const before = w.reason;
      w.reason = f.reason;
      ev.reason = f.reason;
      w.extended = false;
      const hold = this.options.holdDowns[f.reason];
      // Replacement confirms a loss early; another reason re-times the window from its start.
      w.deadline = f.reason === 'local-address-replaced' ? Math.min(w.deadline, now + hold) : Math.max(now, w.start + hold);
      this.schedule(ev);
      ev.evidence.add({
        time: now,
        kind: 'state',
        summary: `suspect (${f.reason}, was ${before}); fresh check in ${w.deadline - now} ms`,
      });
      const info = { reason: f.reason, deadline: w.deadline, evidence: ev.windowEvidence() };
      this.notify(ev, pass, () => ev.emit('suspect', info));
    }
    if (cause === 'deadline') {
      if (w.deadline <= now) this.decide(ev, f, pass);
    } else if (w.extended && this.extensionUntil(ev, f, now) === null) {
      // The grounds for extra patience are gone (an address became usable, DAD ended): decide now.
      w.deadline = now;
      this.schedule(ev);
    }
  }

  /** The hold-down is over and the fresh check failed: extend if the interface is reconfiguring, else gone. */
  private decide(ev: PathEvaluation, f: PathFailure, pass: Pass): void {
    const w = ev.window!;
    const until = this.extensionUntil(ev, f, pass.now);
    if (until === null) {
      this.gone(ev, f.reason, pass);
      return;
    }
    w.deadline = until;
    w.extended = true;
    this.stats.extensions++;
    this.schedule(ev);
    const why = f.tentative ? `${ev.path.local} is still tentative (DAD running)` : 'the interface is mid-reconfiguration (carrier changed, no usable address of this family yet)';
    ev.evidence.add({ time: pass.now, kind: 'timer', summary: `${why}: patience extended by ${until - pass.now} ms` });
  }

  private extensionUntil(ev: PathEvaluation, f: PathFailure, now: number): number | null {
    if (!EXTENDABLE.has(f.reason)) return null;
    const cap = ev.window!.start + this.options.maxSuspectMs;
    const until = Math.min(cap, f.tentative ? cap : f.reconfiguringUntil ?? -Infinity);
    return until > now ? until : null;
  }

  private recover(ev: PathEvaluation, pass: Pass): void {
    const w = ev.window!;
    this.stats.churnSuppressed[w.reason]++;
    ev.state = 'viable';
    ev.reason = null;
    this.timers.cancel(ev.timer);
    ev.timer = null;
    this.suspects.delete(ev);
    const suspectForMs = pass.now - w.start;
    ev.evidence.add({ time: pass.now, kind: 'state', summary: `recovered from ${w.reason} after ${suspectForMs} ms` });
    const info = { reason: w.reason, suspectForMs, evidence: ev.evidence.since(w.start) };
    ev.window = null;
    this.notify(ev, pass, () => ev.emit('recovered', info));
  }

  private gone(ev: PathEvaluation, reason: VerdictReason, pass: Pass): void {
    const w = ev.window!;
    ev.state = 'gone';
    ev.reason = reason;
    this.stats.gone[reason]++;
    if (reason === 'local-address-replaced') this.stats.earlyConfirmations++;
    ev.evidence.add({ time: pass.now, kind: 'state', summary: `gone (${reason}) after ${pass.now - w.start} ms` });
    const info = { reason, evidence: ev.evidence.since(w.start) };
    this.forget(ev);
    this.notify(ev, pass, () => ev.emit('gone', info));
  }

  private updateRoute(ev: PathEvaluation, f: PathOk, pass: Pass): void {
    const previous = ev.route;
    ev.tentative = f.tentative;
    // While the path's own address is still tentative (coming back from churn), the source
    // the kernel would pick is transient: keep the last settled one.
    ev.route = previous && f.tentative ? { ...f.route, preferredSource: previous.preferredSource } : f.route;
    if (previous && (previous.oif !== ev.route.oif || previous.preferredSource !== ev.route.preferredSource)) {
      this.changed(ev, previous, ev.route, f.bound, pass);
    }
  }

  /** Only the source a new connection would get: one lookup per peer, shared by its paths. */
  private refreshSource(ev: PathEvaluation, pass: Pass): void {
    if (!ev.route || ev.tentative || pass.checked.has(ev)) return;
    const r = this.lookup(unboundQuery(ev.path), pass);
    if (!r.ok || r.route.preferredSource === ev.route.preferredSource) return;
    const previous = ev.route;
    ev.route = { ...previous, preferredSource: r.route.preferredSource };
    this.changed(ev, previous, ev.route, r.route, pass);
  }

  private changed(ev: PathEvaluation, previous: PathRoute, current: PathRoute, route: Route, pass: Pass): void {
    this.stats.changed++;
    const view = this.source.state;
    ev.evidence.add({
      time: pass.now,
      kind: 'state',
      summary: `path changed: ${describeRoute(previous, view)} -> ${describeRoute(current, view)}`,
    });
    const info = { previous, current, route };
    this.notify(ev, pass, () => ev.emit('changed', info));
  }

  private finish(pass: Pass): void {
    for (const emit of pass.notifications) {
      for (const err of emit()) {
        // A listener's bug surfaces as an uncaught exception, never mid-pass.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  // ---- foreseen expiries ----

  private scheduleAddressExpiries(local: string): void {
    for (const a of this.source.state.findAddresses(local)) this.scheduleAddressExpiry(a.index, local, false);
  }

  private scheduleAddressExpiry(index: number, local: string, removed: boolean): void {
    const key = `${index}|${local}`;
    const existing = this.addressExpiries.get(key);
    const until = removed ? null : this.history.validUntil(index, local);
    if (until === null) {
      this.timers.cancel(existing);
      this.addressExpiries.delete(key);
      return;
    }
    const item: TimerItem = existing?.item ?? { kind: 'address-expiry', local, index };
    this.addressExpiries.set(key, this.timers.schedule(until, item, existing));
  }

  private trackRouteExpiry(route: Route, removed: boolean, now: number): void {
    const key = routeKey(route);
    const existing = this.routeExpiries.get(key);
    if (removed || route.expires === null) {
      this.timers.cancel(existing);
      this.routeExpiries.delete(key);
      return;
    }
    this.routeExpiries.set(key, this.timers.schedule(now + route.expires * 1000, { kind: 'route-expiry', route }, existing));
  }
}
