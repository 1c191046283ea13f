/**
 * The verdict state of each evaluation and its notifications: applies what
 * rules.ts decides for a check's finding (suspect, wait, extend, recover, gone,
 * changed), keeps the evidence timeline and the counters, and queues the events
 * watchers hear once the pass is done.
 */
import type { Route } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';
import { linkLabel } from './evidence-log';
import { SuspectList } from './slot-lists';
import { VERDICT_REASONS, type ResolvedJudgeOptions } from './hold-downs';
import type { Pass } from './pass';
import type { PathFailure, PathOk } from './path-check';
import type { PathEvaluation } from './path-evaluation';
import { isPathChange, onFailure, type SuspectWindow } from './rules';
import type { EvidenceEntry, JudgeCounters, PathRoute, ReasonCounts, VerdictReason } from './types';

function zeroCounts(): ReasonCounts {
  return Object.fromEntries(VERDICT_REASONS.map((r) => [r, 0])) as ReasonCounts;
}

// Evidence texts, shared by every path with the same keys (Pass.entryFor).
const deadlineText = (extended: unknown, reason: VerdictReason, after: number) =>
  `${extended ? 'patience' : `hold-down for ${reason}`} ended after ${after} ms: fresh check`;
const suspectText = (reason: VerdictReason, was: VerdictReason | null, inMs: number) =>
  `suspect (${reason}${was ? `, was ${was}` : ''}); fresh check in ${inMs} ms`;
const recoveredText = (reason: VerdictReason, suspectForMs: number) => `recovered from ${reason} after ${suspectForMs} ms`;
const goneText = (reason: VerdictReason, after: number) => `gone (${reason}) after ${after} ms`;

function describeRoute(r: PathRoute, view: NetworkStateView): string {
  return `dev ${linkLabel(view, r.oif)}${r.gateway ? ` via ${r.gateway}` : ''}, source ${r.preferredSource ?? 'unknown'}`;
}

const changedText = (previous: PathRoute, current: PathRoute, view: NetworkStateView) =>
  `path changed: ${describeRoute(previous, view)} -> ${describeRoute(current, view)}`;

function sameWindow(w: SuspectWindow): SuspectWindow {
  return w;
}

export interface VerdictHooks {
  /** (Re)arms the evaluation's deadline timer at `ev.window.deadline`, or cancels it when the window closed. */
  deadlineChanged(ev: PathEvaluation): void;
  view(): NetworkStateView;
}

export class VerdictState {
  readonly suspects = new SuspectList<PathEvaluation>();
  private readonly stats = {
    suspected: zeroCounts(),
    churnSuppressed: zeroCounts(),
    confirmations: 0,
    earlyConfirmations: 0,
    extensions: 0,
    gone: zeroCounts(),
    changed: 0,
  };

  constructor(
    private readonly options: ResolvedJudgeOptions,
    private readonly hooks: VerdictHooks,
  ) {}

  counters(): Pick<JudgeCounters, 'suspected' | 'churnSuppressed' | 'confirmations' | 'earlyConfirmations' | 'extensions' | 'verdicts'> {
    const s = this.stats;
    return {
      suspected: { ...s.suspected },
      churnSuppressed: { ...s.churnSuppressed },
      confirmations: s.confirmations,
      earlyConfirmations: s.earlyConfirmations,
      extensions: s.extensions,
      verdicts: { gone: { ...s.gone }, changed: s.changed },
    };
  }

  /**
   * A deadline came for these paths: those still suspect get its entry and are returned
   * for their fresh check. One loop, one entry per window: the paths of a deadline group
   * share their window, and this code runs for the first time at a process's first loss
   * (unoptimized, so every call per path counts).
   */
  deadlineReached(evs: readonly PathEvaluation[], pass: Pass): PathEvaluation[] {
    const due: PathEvaluation[] = [];
    let last: SuspectWindow | null = null;
    let entry: EvidenceEntry | null = null;
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i];
      const w = ev.window;
      if (ev.state !== 'suspect' || w === null) continue;
      if (w !== last) {
        last = w;
        entry = pass.entryFor('timer', 'entry:deadline', deadlineText, w.extended, w.reason, pass.now - w.start, null);
      }
      ev.addEvidence(entry!);
      due.push(ev);
    }
    this.stats.confirmations += due.length;
    return due;
  }

  passed(ev: PathEvaluation, f: PathOk, pass: Pass): void {
    if (ev.state === 'suspect') this.recover(ev, pass);
    const previous = ev.route;
    ev.tentative = f.tentative;
    // While the path's own address is still tentative (coming back from churn), the source
    // the kernel would pick is transient: keep the last settled one.
    ev.route = previous && f.tentative ? { ...f.route, preferredSource: previous.preferredSource } : f.route;
    if (isPathChange(previous, ev.route, ev.path.local)) this.changed(ev, previous!, ev.route, f.bound, pass);
  }

  failed(ev: PathEvaluation, f: PathFailure, pass: Pass, atDeadline: boolean): void {
    const now = pass.now;
    const d = onFailure(ev.window, f, atDeadline, now, this.options);
    switch (d.kind) {
      case 'suspect': {
        // Windows are values: the paths suspected together for one reason share one (10k
        // paths of a lost address read the same object at their deadline).
        const w = d.window;
        ev.window = pass.memo5('window', w.start, w.reason, w.deadline, null, null, sameWindow, w, null, null);
        ev.state = 'suspect';
        ev.reason = f.reason;
        this.stats.suspected[f.reason]++;
        this.suspects.add(ev);
        this.hooks.deadlineChanged(ev);
        this.notifySuspect(ev, null, pass);
        return;
      }
      case 'wait': {
        ev.window = d.window;
        ev.reason = d.window.reason;
        if (d.deadlineMoved) this.hooks.deadlineChanged(ev);
        if (d.reasonWas) this.notifySuspect(ev, d.reasonWas, pass);
        return;
      }
      case 'extend': {
        ev.window = d.window;
        this.stats.extensions++;
        this.hooks.deadlineChanged(ev);
        const why = d.grounds === 'tentative'
          ? `${ev.path.local} is back but still tentative (DAD running)`
          : `no other path reaches ${ev.path.remote}, so closing would gain nothing`;
        ev.addEvidence(pass.sharedEntry('timer', `${why}: patience until the cap, ${d.window.deadline - now} ms more`));
        return;
      }
      case 'gone':
        this.gone(ev, d.reason, pass);
    }
  }

  /** `was`: the reason suspected before, when the reason changed. */
  private notifySuspect(ev: PathEvaluation, was: VerdictReason | null, pass: Pass): void {
    const w = ev.window!;
    const inMs = w.deadline - pass.now;
    ev.addEvidence(pass.entryFor('state', 'entry:suspect', suspectText, w.reason, was, inMs, null));
    pass.notify(ev, 'suspect', { reason: w.reason, deadline: w.deadline, evidence: ev.windowEvidence() });
  }

  private recover(ev: PathEvaluation, pass: Pass): void {
    const w = ev.window!;
    this.stats.churnSuppressed[w.reason]++;
    ev.state = 'viable';
    ev.reason = null;
    ev.window = null;
    this.suspects.delete(ev);
    this.hooks.deadlineChanged(ev);
    const suspectForMs = pass.now - w.start;
    ev.addEvidence(pass.entryFor('state', 'entry:recovered', recoveredText, w.reason, suspectForMs, null, null));
    pass.notify(ev, 'recovered', { reason: w.reason, suspectForMs, evidence: ev.evidenceSince(w.start) });
  }

  private gone(ev: PathEvaluation, reason: VerdictReason, pass: Pass): void {
    const w = ev.window!;
    ev.state = 'gone';
    ev.reason = reason;
    this.stats.gone[reason]++;
    if (reason === 'local-address-replaced') this.stats.earlyConfirmations++;
    this.suspects.delete(ev);
    const after = pass.now - w.start;
    ev.addEvidence(pass.entryFor('state', 'entry:gone', goneText, reason, after, null, null));
    pass.notify(ev, 'gone', { reason, evidence: ev.evidenceSince(w.start) });
    pass.gone.push(ev);
  }

  private changed(ev: PathEvaluation, previous: PathRoute, current: PathRoute, route: Route, pass: Pass): void {
    this.stats.changed++;
    // One entry for every path that moved the same way (a source change moves them all):
    // 100k paths each keeping their own copy of this text was ~1 KB per path per change.
    // Routes are interned (a tentative path's is a copy: its entry is its own).
    ev.addEvidence(pass.entryFor('state', 'entry:changed', changedText, previous, current, this.hooks.view(), null));
    pass.notify(ev, 'changed', { previous, current, route });
  }
}
