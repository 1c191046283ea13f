/**
 * PathJudge: decides, for each watched path, whether it is viable, suspect
 * (evidence says it may be broken) or gone, and why. Consumes only a
 * NetworkSource, so it runs alike on a live monitor, a fake network and a replay.
 *
 * Data flow: event -> evidence/ (the paths it can affect) -> checkPath (fresh
 * facts, kernel lookups) -> rules.ts (what happens next) -> VerdictState (state,
 * evidence, counters) -> notifications, emitted once the pass is done.
 * This file owns the watches, the index, the timers and the passes; pass-checks.ts
 * says what each pass checks, path-checker.ts runs the checks.
 */
import { RouteguardError } from '../errors';
import type { NetworkEvent } from '../netlink/types';
import type { NetworkSource } from '../netlink/view';
import { realClock } from './clock';
import { describeEvent } from './evidence-log';
import { Lifetimes } from './evidence/lifetimes';
import { LocalRoutes } from './evidence/routes';
import { checkJudgeInputs, resolveJudgeOptions, type ResolvedJudgeOptions } from './hold-downs';
import { InterfaceHistory } from './interface-history';
import { Pass, SourceFailure } from './pass';
import { checkDue, checkEvent, type DeadlineItem, type PassParts, type TimerItem } from './pass-checks';
import type { ExpiryItem } from './evidence/lifetimes';
import { AddressAtoms } from './address-atoms';
import { PathEvaluation, WatchHandle, type EvaluationOwner } from './path-evaluation';
import { PathIndex } from './path-index';
import { canonicalPath } from './path-spec';
import { lookupsChangedBy } from './new-connections';
import { PathChecker } from './path-checker';
import { WatchIntake } from './watch-intake';
import { TimerQueue } from './timer-queue';
import { DeadlineGroups } from './deadline-groups';
import type { Clock, EndedInfo, JudgeCounters, JudgeOptions, PathSpec, PathWatch } from './types';
import { VerdictState } from './verdict-state';

export class PathJudge {
  private readonly options: ResolvedJudgeOptions;
  private readonly clock: Clock;
  private readonly history = new InterfaceHistory();
  private readonly localRoutes = new LocalRoutes();
  private readonly index = new PathIndex<PathEvaluation>();
  private readonly atoms = new AddressAtoms();
  private readonly checker: PathChecker;
  private readonly intake: WatchIntake<PathEvaluation>;
  private readonly owner: EvaluationOwner;
  private paths = 0;
  private readonly timers: TimerQueue<TimerItem>;
  private readonly lifetimes: Lifetimes<DeadlineItem>;
  private readonly deadlines: DeadlineGroups<PathEvaluation, ExpiryItem>;
  private readonly verdicts: VerdictState;
  private readonly parts: PassParts;
  private readonly stats = { watches: 0, events: 0 };
  private started = false;
  private closed = false;
  /** Why the source ended the judge, once it has. */
  private endedWith: EndedInfo | null = null;
  private readonly listener = (event: NetworkEvent) => this.run(() => this.onEvent(event));
  private readonly resolveAtom = (s: PathSpec, field: 'local' | 'remote') => this.atoms.resolve(s, field);
  private readonly onSourceClosed = () =>
    this.end({ code: 'ERR_MONITOR_CLOSED', message: 'the network source was closed; the path is no longer judged' });

  constructor(
    private readonly source: NetworkSource,
    options: JudgeOptions = {},
  ) {
    checkJudgeInputs(source, options);
    this.options = resolveJudgeOptions(options);
    this.clock = options.clock ?? realClock;
    this.intake = new WatchIntake((evs, quiet) => this.run(() => this.checkNew(evs, quiet)));
    this.owner = {
      evidenceLimit: this.options.evidenceLimit,
      released: (ev) => this.release(ev),
      settle: () => this.intake.flush(true),
    };
    this.timers = new TimerQueue(this.clock, (due) => this.run(() => this.onTimers(due)));
    this.lifetimes = new Lifetimes(this.timers, this.history, this.options.routeRecheckMs);
    this.deadlines = new DeadlineGroups(this.timers);
    this.verdicts = new VerdictState(this.options, {
      deadlineChanged: (ev) => this.scheduleDeadline(ev),
      view: () => this.source.state,
    });
    this.checker = new PathChecker(source, this.options, this.history, this.localRoutes, this.index, this.verdicts);
    this.parts = {
      history: this.history,
      localRoutes: this.localRoutes,
      index: this.index,
      lifetimes: this.lifetimes,
      deadlines: this.deadlines,
      checker: this.checker,
      verdicts: this.verdicts,
      allEvaluations: () => this.allEvaluations(),
    };
    source.on('event', this.listener);
    source.on('close', this.onSourceClosed);
    if (source.synced) this.run(() => this.start());
  }

  /**
   * Watches a path. Watchers of the same path (same local, remote, ifindex, mark,
   * bound device) share one evaluation. The state at watch time is in `watch.state`;
   * events report what changes afterwards. A gone path stays gone: a later watch()
   * of the same path starts a fresh evaluation.
   */
  watch(spec: PathSpec): PathWatch {
    if (this.closed) throw new RouteguardError('ERR_JUDGE_CLOSED', 'watch(): the judge is closed');
    const path = canonicalPath(spec, this.resolveAtom);
    let ev = this.index.find(path);
    if (ev?.state === 'gone') {
      // Found gone in the pass whose notifications are running now (a listener reconnects).
      this.forget(ev);
      ev = undefined;
    }
    if (!ev) {
      ev = new PathEvaluation(path, this.owner);
      this.atoms.hold(path.localAtom);
      this.atoms.hold(path.remoteAtom);
      this.index.add(ev);
      this.paths++;
      // A source that answers lookups in batches (the monitor: its events are macrotasks,
      // never synchronous with a watch) gets the first check with the rest of the burst,
      // at the end of the microtask queue or when the watcher reads the state. Others
      // (fakes that change state and emit synchronously) are checked now, before any
      // change can reach the judge.
      if (this.started) {
        if (this.source.lookupRoutes) this.intake.add(ev);
        else this.checkAlone(ev);
      }
    }
    this.stats.watches++;
    return WatchHandle.open(ev);
  }

  /**
   * A first check on its own pass (a source without batches). Not inline in watch(): its
   * closure would cost every watch a context. Its failure is the watch's: the path is
   * dropped, and a source that failed under it (which ended the judge before the handle
   * existed to hear 'ended') is thrown with its code, not left as a handle that says viable.
   */
  private checkAlone(ev: PathEvaluation): void {
    try {
      this.run(() => this.checkNew([ev], true));
    } catch (err) {
      this.forget(ev);
      throw err;
    }
    const ended = this.endedWith;
    if (ended) throw new RouteguardError(ended.code, `watch(): ${ended.message}`);
  }

  counters(): JudgeCounters {
    this.intake.flush(true);
    const s = this.stats;
    const c = this.checker.stats;
    return { watches: s.watches, paths: this.paths, events: s.events, checks: c.checks, kernelLookups: c.kernelLookups, ...this.verdicts.counters() };
  }

  /** Stops listening and cancels every timer; handles keep their last state. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.off('event', this.listener);
    this.source.off('close', this.onSourceClosed);
    this.timers.stop();
    this.deadlines.clear();
    this.intake.clear();
    this.verdicts.suspects.clear();
  }

  // ---- lifecycle ----

  /** Runs a pass; a source that fails under it (closed, broken) ends the judge instead of throwing. */
  private run(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      if (!(err instanceof SourceFailure)) throw err;
      const cause = err.cause as { code?: unknown; message?: unknown };
      const code = typeof cause?.code === 'string' ? cause.code : 'ERR_SOURCE_FAILED';
      this.end({ code, message: `a kernel lookup failed: ${String(cause?.message ?? cause)}; the path is no longer judged` });
    }
  }

  /** The source is gone: every watch hears 'ended' once, then the judge closes. */
  private end(info: EndedInfo): void {
    if (this.closed) return;
    this.endedWith = info;
    const evaluations = this.allEvaluations();
    this.close();
    for (const ev of evaluations) {
      const errors = ev.emit('ended', info);
      if (errors) this.report(errors);
    }
  }

  private start(): void {
    this.started = true;
    const now = this.clock.now();
    const view = this.source.state;
    this.history.seed(view, now);
    for (const r of view.routes()) {
      this.localRoutes.onRoute(r, false);
      // Reported before the judge started: its lifetime is counted from now (a hint; see lifetimes.ts).
      if (r.expires !== null) this.lifetimes.onRoute(r, false, now);
    }
    this.checkNew(this.allEvaluations(), true);
  }

  private allEvaluations(): PathEvaluation[] {
    const out: PathEvaluation[] = [];
    this.index.forEachOfFamily(4, (ev) => out.push(ev));
    this.index.forEachOfFamily(6, (ev) => out.push(ev));
    return out;
  }

  /**
   * First checks of new evaluations, in one pass: their lookups are asked together.
   * `quiet`: checked at watch time, so nobody is notified (watch.state has it).
   */
  private checkNew(evs: readonly PathEvaluation[], quiet: boolean): void {
    const view = this.source.state;
    const pass = new Pass(this.clock.now());
    const fresh = evs.filter((ev) => ev.peerSlot >= 0 && ev.lastOk === null);
    this.checker.checkEach(fresh, pass, 'initial');
    const locals = new Set<string>();
    // Indexed: this runs once per burst, in the interpreter, where for-of allocates per step.
    for (let i = 0; i < fresh.length; i++) locals.add(fresh[i].path.local);
    for (const local of locals) this.lifetimes.watchAddress(view, local);
    this.finish(pass, !quiet);
  }

  private release(ev: PathEvaluation): void {
    this.stats.watches--;
    if (ev.handleCount > 0) return;
    this.forget(ev);
  }

  /** Drops an evaluation from the indexes and timers (its handles keep their last state). */
  private forget(ev: PathEvaluation): void {
    if (ev.peerSlot < 0) return;
    this.index.remove(ev);
    this.paths--;
    this.atoms.release(ev.path.localAtom);
    this.atoms.release(ev.path.remoteAtom);
    this.checker.unindex(ev);
    this.deadlines.leave(ev);
    this.verdicts.suspects.delete(ev);
    if (!this.index.hasLocal(ev.path.local)) this.lifetimes.forgetAddress(ev.path.local);
  }

  // ---- events and timers ----

  private onEvent(event: NetworkEvent): void {
    this.stats.events++;
    if (event.type === 'synced') {
      if (!this.started) this.start();
      return;
    }
    if (!this.started || event.type === 'dropped') return;
    this.intake.flush(false);
    const changed = lookupsChangedBy(event);
    if (changed === 'all') this.checker.newConnections.clear();
    const view = this.source.state;
    const pass = new Pass(this.clock.now(), event.type === 'resync' ? null : () => describeEvent(event, view), event);
    checkEvent(event, changed, view, pass, this.parts);
    this.finish(pass);
  }

  private onTimers(due: TimerItem[]): void {
    this.intake.flush(false);
    const pass = new Pass(this.clock.now());
    checkDue(due, this.source.state, pass, this.parts);
    this.finish(pass);
  }

  private scheduleDeadline(ev: PathEvaluation): void {
    this.deadlines.set(ev, ev.window ? ev.window.deadline : null);
  }

  /**
   * Notifies, then drops the paths found gone: the verdicts are heard before the
   * bookkeeping, and a listener that watches the path again gets a fresh evaluation
   * (watch() drops a gone one it finds).
   */
  private finish(pass: Pass, notify = true): void {
    if (notify) pass.emitNotifications((errors) => this.report(errors));
    // Indexed: a first deadline runs this loop in the interpreter (see DeadlineGroups.take).
    const gone = pass.gone;
    for (let i = 0; i < gone.length; i++) this.forget(gone[i]);
  }

  /** A listener's bug surfaces as an uncaught exception, never mid-pass. */
  private report(errors: unknown[]): void {
    for (const err of errors) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
