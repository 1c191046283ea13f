/**
 * The verdict rules, pure: (the path's suspect window, what a check found, now, the
 * options) -> what happens next. Every hold-down, the cap and "confirm fast when
 * another path exists" live here and nowhere else.
 *
 * The position: closing is worth its cost when a reconnect would succeed now
 * (another uplink carries the peer, the VPN took over, a new address replaced the
 * old one). Then a loss is confirmed when its reason's hold-down ends. When nothing
 * could reach the peer anyway (the only link is down, the address is absent while
 * its manager restores it), closing gains nothing and loses the session: the path
 * is reported suspect at once and given patience up to the cap.
 */
import type { ResolvedJudgeOptions } from './hold-downs';
import type { ProofOfLife } from './evidence/socket';
import type { PathRoute, VerdictReason } from './types';

export interface SuspectWindow {
  /** Time of the first evidence. */
  start: number;
  reason: VerdictReason;
  deadline: number;
  /** Why the hold-down was extended, null while it was not. */
  extended: ExtensionGrounds | null;
}

/** 'no-alternative': nothing else reaches the peer; 'tentative': the address is back, DAD still running. */
export type ExtensionGrounds = 'no-alternative' | 'tentative';

/** What a failed check tells the rules. */
export interface FailureFacts {
  reason: VerdictReason;
  /** The local address is present again but DAD has not finished. */
  tentative: boolean;
  /** How a new connection would reach the peer now (its description), or null when nothing would. */
  alternative: string | null;
}

export type RuleOptions = Pick<ResolvedJudgeOptions, 'holdDowns' | 'maxSuspectMs'>;

export type Decision =
  /** viable -> suspect. */
  | { kind: 'suspect'; window: SuspectWindow }
  /** Still suspect; `reasonWas` is set when the reason changed (suspect is reported again). */
  | { kind: 'wait'; window: SuspectWindow; reasonWas: VerdictReason | null; deadlineMoved: boolean }
  /** The hold-down ended, the check still fails, and patience is due: wait until the new deadline. */
  | { kind: 'extend'; window: SuspectWindow; grounds: ExtensionGrounds }
  | { kind: 'gone'; reason: VerdictReason };

/**
 * Reasons that may be churn a network manager is about to undo. The others are
 * losses whatever the alternatives: a duplicate address, a lifetime that ran out,
 * an address replaced by another, a source the new egress cannot use.
 */
export const PATIENT_REASONS: ReadonlySet<VerdictReason> = new Set<VerdictReason>([
  'local-address-removed',
  'link-down',
  'link-removed',
  'no-route',
  'unreachable',
  'neighbour-failed',
]);

/** Grounds for waiting past the hold-down, strongest first; null when there are none. */
function groundsFor(f: FailureFacts): ExtensionGrounds | null {
  if (!PATIENT_REASONS.has(f.reason)) return null;
  if (f.tentative) return 'tentative';
  return f.alternative === null ? 'no-alternative' : null;
}

/** The deadline a reason gives a window: its hold-down from the window's start, never in the past. */
function holdDeadline(w: SuspectWindow, reason: VerdictReason, now: number, rules: RuleOptions): number {
  return Math.max(now, w.start + rules.holdDowns[reason]);
}

/**
 * A check failed. `atDeadline` is true when the check ran because the window's
 * deadline came (the fresh check), false for checks caused by events.
 */
export function onFailure(
  current: SuspectWindow | null,
  f: FailureFacts,
  atDeadline: boolean,
  now: number,
  rules: RuleOptions,
): Decision {
  if (!current) {
    return { kind: 'suspect', window: { start: now, reason: f.reason, deadline: now + rules.holdDowns[f.reason], extended: null } };
  }
  // Windows are values (evaluations hold them, the paths suspected together share one): a changed one is a copy.
  let w: SuspectWindow = current;
  let reasonWas: VerdictReason | null = null;
  let deadlineMoved = false;
  if (f.reason !== w.reason) {
    w = { ...current };
    reasonWas = w.reason;
    w.reason = f.reason;
    w.extended = null;
    // Replacement confirms a loss early; another reason re-times the window from its start.
    w.deadline = f.reason === 'local-address-replaced'
      ? Math.min(w.deadline, now + rules.holdDowns[f.reason])
      : holdDeadline(w, f.reason, now, rules);
    deadlineMoved = true;
  } else if (w.extended !== null && groundsFor(f) === null) {
    // The grounds for patience are gone (another path now reaches the peer, DAD ended):
    // the loss is confirmed as soon as its own hold-down allows.
    w = { ...current };
    w.extended = null;
    w.deadline = holdDeadline(w, f.reason, now, rules);
    deadlineMoved = true;
  }
  if (atDeadline && w.deadline <= now) {
    const grounds = groundsFor(f);
    const cap = w.start + rules.maxSuspectMs;
    if (grounds === null || cap <= now) return { kind: 'gone', reason: f.reason };
    if (w === current) w = { ...current };
    w.deadline = cap;
    w.extended = grounds;
    return { kind: 'extend', window: w, grounds };
  }
  return { kind: 'wait', window: w, reasonWas, deadlineMoved };
}

/**
 * Whether a passing check that found `current` (after `previous`) is a change worth
 * `changed`: another egress, or another source for new connections — except a move
 * of that source to the path's own address (a secondary promoted to primary), after
 * which migrating would move connections to the address they already use.
 */
export function isPathChange(previous: PathRoute | null, current: PathRoute, local: string): boolean {
  if (!previous) return false;
  if (previous.oif !== current.oif) return true;
  return previous.preferredSource !== current.preferredSource && current.preferredSource !== local;
}

/** What happens to one connection when its path is judged gone. */
export type ConnectionDecision =
  | { kind: 'close' }
  /** The connection's own socket heard from its peer after the evidence began: the path works for it. */
  | { kind: 'keep'; proof: ProofOfLife };

/**
 * A path is gone; `proof` is what the connection's socket showed since the evidence
 * began (evidence/socket.ts). Proof of life overrides the verdict for that
 * connection, whatever the reason: it is the safety net under every heuristic
 * (a VPN came up and the kernel would route elsewhere, yet the replies still arrive).
 *
 * TCP evidence never confirms a loss, early or at all: retransmissions and backoff
 * are what churn produces too (an address absent for 2 s, a carrier flap, a deleted
 * route being re-added). The reasons that cannot heal by themselves
 * (local-address-dadfailed, -expired, -replaced) already confirm within 200-1000 ms,
 * before an RTO-driven signal (first retransmission >= 200 ms, backoff doubling)
 * could say anything; source-mismatch is the case where replies often still arrive.
 */
export function connectionOnGone(proof: ProofOfLife | null): ConnectionDecision {
  return proof ? { kind: 'keep', proof } : { kind: 'close' };
}
