/**
 * Every timing default of the judge, in one place, each with the churn it rides
 * out (figures from docs/verdicts.md, measured with real network managers in
 * namespaces). A loss another path would survive is declared at its hold-down's
 * end (plus the time of one fresh check), or earlier on replacement; a loss
 * nothing else reaches is given patience up to the cap (rules.ts).
 */
import { InvalidArgumentError } from '../errors';
import type { HoldDowns, JudgeOptions, VerdictReason } from './types';

export const DEFAULT_HOLD_DOWNS: Readonly<HoldDowns> = Object.freeze({
  // NetworkManager reapply: IPv6 global address absent 1.2-2.1 s (back tentative),
  // systemd-networkd reconfigure 1.24 s, IPv4 40-60 ms. With no other path to the peer,
  // patience runs to the cap instead (dhcpcd: IPv4 back 6.1-9.2 s after a flap).
  'local-address-removed': 3000,
  // A duplicate stays dadfailed for good; the wait only lets a same-instant removal or
  // re-add (a manager picking another address) arrive first.
  'local-address-dadfailed': 500,
  // Lifetimes are reported in whole seconds, so the kernel's deletion lands within
  // about a second of the foreseen expiry; a renewal arriving late still wins.
  'local-address-expired': 1000,
  // Replacement settle: managers re-add all addresses of a family within a few ms,
  // so the old address, if it is coming back, arrives well inside this.
  'local-address-replaced': 200,
  // Carrier flaps of ~3 s are ignored by NetworkManager and leave kernel-only,
  // dhclient and udhcpc setups untouched. Applies when another path reaches the peer;
  // without one, patience runs to the cap (NetworkManager restores a 10 s loss at ~16-17 s).
  'link-down': 4000,
  // RTM_DELADDR and RTM_DELROUTE precede RTM_DELLINK by milliseconds. A tunnel that is
  // re-created (OpenVPN without persist-tun, wg-quick restart) comes back within seconds
  // with a new index: without another path the wait runs to the cap.
  'link-removed': 500,
  // NetworkManager/networkd reapply: IPv6 default route gone 1.2-2.1 s; IPv4 40-60 ms.
  // A metric change is make-before-break and raises no suspicion at all.
  'no-route': 3000,
  // Same churn as no-route: an unreachable/prohibit answer (route or rule) while routes are re-added.
  unreachable: 3000,
  // The egress moved to an interface the source does not belong to (full-tunnel VPN, second
  // uplink). Reapply re-adds an address a moment before its routes (IPv4 40-60 ms; IPv6 with
  // the address at 1.2-2.1 s): counted from the window's start, 3 s rides that out.
  'source-mismatch': 3000,
  // The kernel declares NUD_FAILED only after ~3 s of unanswered probes; a gateway that
  // reboots or a bridge that re-learns answers again within seconds.
  'neighbour-failed': 3000,
});

export const JUDGE_DEFAULTS = Object.freeze({
  /**
   * Cap on a suspect window: how long a path with no other way to its peer is given.
   * NetworkManager, after a 10 s carrier loss, has the addresses back ~16-17 s after the
   * carrier went; dhcpcd keeps IPv4 absent ~9.2 s after a 3 s flap; a restarted
   * systemd-networkd is back in ~3 s. 20 s covers them all with 3 s to spare.
   */
  maxSuspectMs: 20_000,
  /**
   * Kernel-managed RA routes get fresh expiries without any netlink message: past its
   * foreseen end a route still in use is re-checked this often (the kernel deletes an
   * expired one lazily, up to ~30 s late).
   */
  routeRecheckMs: 10_000,
  /** A removal this close to the foreseen valid-lifetime end counts as expiry (whole-second lifetimes). */
  expirySlackMs: 1500,
  /** A replacement address may appear this long before the old one is removed (make-before-break). */
  replacementLookbackMs: 1000,
  evidenceLimit: 64,
});

export const VERDICT_REASONS: readonly VerdictReason[] = Object.freeze(
  Object.keys(DEFAULT_HOLD_DOWNS) as VerdictReason[],
);

export interface ResolvedJudgeOptions {
  holdDowns: HoldDowns;
  maxSuspectMs: number;
  routeRecheckMs: number;
  expirySlackMs: number;
  replacementLookbackMs: number;
  evidenceLimit: number;
}

function checkMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds >= 0, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

/**
 * The judge's source and clock, checked before anything subscribes: an object without
 * their methods would throw a TypeError at the first event or timer instead.
 */
export function checkJudgeInputs(source: unknown, options: JudgeOptions | undefined): void {
  const s = source as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object' || typeof s.on !== 'function' || typeof s.off !== 'function' || typeof s.lookupRoute !== 'function' || typeof s.state !== 'object') {
    throw new InvalidArgumentError('the judge needs a network source: a NetlinkMonitor (state, lookupRoute(), on(), off())');
  }
  checkClock(options?.clock, 'clock');
}

/** A Clock option, when given: now(), setTimeout() and clearTimeout(). */
export function checkClock(clock: unknown, name: string): void {
  if (clock === undefined) return;
  const c = clock as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object' || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function') {
    throw new InvalidArgumentError(`${name} must have now(), setTimeout(fn, ms) and clearTimeout(handle), got ${String(clock)}`);
  }
}

/** Merges options with the defaults; throws InvalidArgumentError naming the bad option. */
export function resolveJudgeOptions(options: JudgeOptions = {}): ResolvedJudgeOptions {
  const holdDowns: HoldDowns = { ...DEFAULT_HOLD_DOWNS };
  const given: unknown = options.holdDowns;
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new InvalidArgumentError(`holdDowns must be an object of milliseconds by reason, got ${JSON.stringify(given)}`);
  }
  for (const [reason, ms] of Object.entries(options.holdDowns ?? {})) {
    // Own keys only: "toString" or "__proto__" is no reason.
    if (!Object.hasOwn(DEFAULT_HOLD_DOWNS, reason)) {
      throw new InvalidArgumentError(
        `holdDowns: unknown reason "${reason}"; the reasons are ${VERDICT_REASONS.join(', ')}`,
      );
    }
    holdDowns[reason as VerdictReason] = checkMs(`holdDowns['${reason}']`, ms);
  }
  const evidenceLimit = options.evidenceLimit ?? JUDGE_DEFAULTS.evidenceLimit;
  if (!Number.isInteger(evidenceLimit) || evidenceLimit < 1) {
    throw new InvalidArgumentError(`evidenceLimit must be an integer >= 1, got ${evidenceLimit}`);
  }
  return {
    holdDowns,
    maxSuspectMs: checkMs('maxSuspectMs', options.maxSuspectMs ?? JUDGE_DEFAULTS.maxSuspectMs),
    routeRecheckMs: Math.max(1, checkMs('routeRecheckMs', options.routeRecheckMs ?? JUDGE_DEFAULTS.routeRecheckMs)),
    expirySlackMs: JUDGE_DEFAULTS.expirySlackMs,
    replacementLookbackMs: JUDGE_DEFAULTS.replacementLookbackMs,
    evidenceLimit,
  };
}

/**
 * Parses `--hold-down` arguments: "MS" sets every reason, "REASON=MS" one reason;
 * later arguments override earlier ones.
 */
export function parseHoldDowns(args: readonly string[]): Partial<HoldDowns> {
  const out: Partial<HoldDowns> = {};
  for (const arg of args) {
    for (const part of arg.split(',')) {
      const eq = part.indexOf('=');
      const text = eq < 0 ? part : part.slice(eq + 1);
      const ms = Number(text);
      if (text.trim() === '' || !Number.isFinite(ms) || ms < 0) {
        throw new InvalidArgumentError(`--hold-down: "${part}" is not MS or REASON=MS (milliseconds >= 0)`);
      }
      if (eq < 0) {
        for (const reason of VERDICT_REASONS) out[reason] = ms;
        continue;
      }
      const reason = part.slice(0, eq) as VerdictReason;
      if (!Object.hasOwn(DEFAULT_HOLD_DOWNS, reason)) {
        throw new InvalidArgumentError(
          `--hold-down: unknown reason "${reason}"; the reasons are ${VERDICT_REASONS.join(', ')}`,
        );
      }
      out[reason] = ms;
    }
  }
  return out;
}
