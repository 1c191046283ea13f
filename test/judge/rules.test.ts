/**
 * rules.ts on its own: every decision of the verdict rules, with explicit times
 * (the clock is a number): suspect, wait, reason changes, replacement, extension
 * and its grounds, the cap, confirmation when an alternative appears, and what
 * counts as a path change.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOLD_DOWNS, resolveJudgeOptions } from '../../src/judge/hold-downs';
import { isPathChange, onFailure, PATIENT_REASONS, type FailureFacts, type SuspectWindow } from '../../src/judge/rules';
import type { PathRoute, VerdictReason } from '../../src/judge/types';

const rules = resolveJudgeOptions({});
const HOLD = DEFAULT_HOLD_DOWNS;
const CAP = rules.maxSuspectMs;
const ALT = 'a new connection would go through eth1 (index 3) from 203.0.113.10';

function facts(reason: VerdictReason, alternative: string | null = null, tentative = false): FailureFacts {
  return { reason, alternative, tentative };
}

function open(reason: VerdictReason, alternative: string | null = null, start = 1000): SuspectWindow {
  const d = onFailure(null, facts(reason, alternative), false, start, rules);
  if (d.kind !== 'suspect') throw new Error(`expected suspect, got ${d.kind}`);
  return d.window;
}

describe('rules: windows are values', () => {
  it('no decision changes the window it is given (the paths suspected together share one)', () => {
    const frozen = (w: SuspectWindow): SuspectWindow => Object.freeze({ ...w });
    const w = frozen(open('local-address-removed'));
    const before = { ...w };
    // Every branch that makes a new window: another reason, replacement, the hold-down's
    // end with patience due, patience whose grounds are gone; and the ones that keep it.
    const decisions = [
      onFailure(w, facts('no-route'), false, 1500, rules),
      onFailure(w, facts('local-address-replaced', ALT), false, 1500, rules),
      onFailure(w, facts('local-address-removed'), true, w.deadline, rules),
      onFailure(w, facts('local-address-removed', ALT), true, w.deadline, rules),
      onFailure(w, facts('local-address-removed'), false, 2000, rules),
    ];
    const extended = decisions[2];
    if (extended.kind !== 'extend') throw new Error(`expected extend, got ${extended.kind}`);
    decisions.push(onFailure(frozen(extended.window), facts('local-address-removed', ALT), false, w.deadline + 10, rules));
    expect(decisions.map((d) => d.kind)).toEqual(['wait', 'wait', 'extend', 'gone', 'wait', 'wait']);
    expect(decisions[5]).toMatchObject({ deadlineMoved: true, window: { extended: null } });
    expect(w).toEqual(before);
  });
});

describe('rules: opening and waiting', () => {
  it('the first failure opens a window at once, due at its reason\'s hold-down', () => {
    for (const reason of Object.keys(HOLD) as VerdictReason[]) {
      expect(onFailure(null, facts(reason), false, 1000, rules)).toEqual({
        kind: 'suspect',
        window: { start: 1000, reason, deadline: 1000 + HOLD[reason], extended: null },
      });
    }
  });

  it('a failure before the deadline waits; the same reason keeps the deadline', () => {
    const w = open('link-down');
    expect(onFailure(w, facts('link-down'), false, 2000, rules)).toEqual({ kind: 'wait', window: w, reasonWas: null, deadlineMoved: false });
    // A check at the deadline's time but not caused by it (an event) does not decide.
    expect(onFailure(w, facts('link-down', ALT), false, w.deadline, rules).kind).toBe('wait');
  });

  it('another reason re-times the window from its start, never into the past', () => {
    const w = open('link-down');
    const d = onFailure(w, facts('no-route'), false, 1500, rules);
    expect(d).toEqual({
      kind: 'wait',
      window: { start: 1000, reason: 'no-route', deadline: 1000 + HOLD['no-route'], extended: null },
      reasonWas: 'link-down',
      deadlineMoved: true,
    });
    const late = onFailure(w, facts('local-address-dadfailed'), false, 4000, rules);
    expect(late).toMatchObject({ window: { deadline: 4000 }, reasonWas: 'link-down' });
  });

  it('replacement only ever brings the deadline closer', () => {
    const w = open('local-address-removed');
    expect(onFailure(w, facts('local-address-replaced', ALT), false, 1400, rules)).toMatchObject({
      window: { deadline: 1400 + HOLD['local-address-replaced'] },
    });
    const nearlyDue = { ...w, deadline: 1450 };
    expect(onFailure(nearlyDue, facts('local-address-replaced', ALT), false, 1400, rules)).toMatchObject({ window: { deadline: 1450 } });
  });
});

describe('rules: at the deadline', () => {
  it('another path reaches the peer: gone, whatever the reason', () => {
    for (const reason of Object.keys(HOLD) as VerdictReason[]) {
      const w = open(reason, ALT);
      expect(onFailure(w, facts(reason, ALT), true, w.deadline, rules)).toEqual({ kind: 'gone', reason });
    }
  });

  it('nothing reaches the peer: patient reasons wait until the cap, the others are gone', () => {
    for (const reason of Object.keys(HOLD) as VerdictReason[]) {
      const w = open(reason);
      const d = onFailure(w, facts(reason), true, w.deadline, rules);
      if (PATIENT_REASONS.has(reason)) {
        expect(d).toEqual({ kind: 'extend', grounds: 'no-alternative', window: { ...w, deadline: w.start + CAP, extended: 'no-alternative' } });
      } else {
        expect(d).toEqual({ kind: 'gone', reason });
      }
    }
    expect([...PATIENT_REASONS].sort()).toEqual(['link-down', 'link-removed', 'local-address-removed', 'neighbour-failed', 'no-route', 'unreachable']);
  });

  it('a tentative address (back, DAD running) earns patience even with an alternative', () => {
    const w = open('no-route', ALT);
    expect(onFailure(w, facts('no-route', ALT, true), true, w.deadline, rules)).toMatchObject({ kind: 'extend', grounds: 'tentative' });
  });

  it('at the cap the path is gone, even with grounds for patience', () => {
    const w = { ...open('link-down'), extended: 'no-alternative' as const, deadline: 1000 + CAP };
    expect(onFailure(w, facts('link-down'), true, 1000 + CAP, rules)).toEqual({ kind: 'gone', reason: 'link-down' });
  });

  it('the cap is configurable', () => {
    const short = resolveJudgeOptions({ maxSuspectMs: 5000 });
    const w = open('link-down');
    expect(onFailure(w, facts('link-down'), true, w.deadline, short)).toMatchObject({ kind: 'extend', window: { deadline: 6000 } });
  });
});

describe('rules: while patient', () => {
  it('an alternative appearing ends the patience: due at once (the hold-down is long over)', () => {
    const w: SuspectWindow = { start: 1000, reason: 'link-down', deadline: 1000 + CAP, extended: 'no-alternative' };
    const d = onFailure(w, facts('link-down', ALT), false, 9000, rules);
    expect(d).toEqual({ kind: 'wait', window: { ...w, deadline: 9000, extended: null }, reasonWas: null, deadlineMoved: true });
  });

  it('an alternative appearing before the hold-down ends confirms at the hold-down, not earlier', () => {
    const w: SuspectWindow = { start: 1000, reason: 'local-address-removed', deadline: 1000 + CAP, extended: 'tentative' };
    const d = onFailure(w, facts('local-address-removed', ALT), false, 2000, rules);
    expect(d).toMatchObject({ window: { deadline: 1000 + HOLD['local-address-removed'], extended: null } });
  });

  it('grounds that still hold keep the extension', () => {
    const w: SuspectWindow = { start: 1000, reason: 'link-down', deadline: 1000 + CAP, extended: 'no-alternative' };
    expect(onFailure(w, facts('link-down'), false, 9000, rules)).toEqual({ kind: 'wait', window: w, reasonWas: null, deadlineMoved: false });
  });
});

describe('rules: what counts as a path change', () => {
  const route = (oif: number, preferredSource: string): PathRoute => ({ oif, preferredSource, gateway: null, table: 254 });
  it('another egress, or another source for new connections that is not the path\'s own address', () => {
    expect(isPathChange(null, route(2, '192.0.2.10'), '192.0.2.10')).toBe(false);
    expect(isPathChange(route(2, '192.0.2.10'), route(3, '192.0.2.10'), '192.0.2.10')).toBe(true);
    expect(isPathChange(route(2, '192.0.2.10'), route(2, '192.0.2.11'), '192.0.2.10')).toBe(true);
    // A secondary promoted to primary: the source moved to the path's own address.
    expect(isPathChange(route(2, '192.0.2.10'), route(2, '192.0.2.11'), '192.0.2.11')).toBe(false);
    expect(isPathChange(route(2, '192.0.2.10'), route(2, '192.0.2.10'), '192.0.2.10')).toBe(false);
  });
});
