/**
 * What a pass checks, by cause: a netlink event names the paths it can affect (through
 * evidence/ and the index), a due timer names its own. PathJudge opens the pass, runs
 * one of these, then finishes it (notifications, forgetting the gone paths).
 */
import type { NetworkEvent } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';
import { linkLabel } from './evidence-log';
import { pathsAffectedByAddress, pathsAffectedByLink } from './evidence/addresses';
import type { ExpiryItem, Lifetimes } from './evidence/lifetimes';
import { isRouter6, neighbourMatters, nextHopKey, pathsThroughGateways } from './evidence/neighbours';
import { onlyExpiryChanged, pathsCoveredBy, pathsSelectedBy, pathsSourcedBy, pathsUsingNexthop, type LocalRoutes } from './evidence/routes';
import { addressText, type InterfaceHistory } from './interface-history';
import type { DeadlineGroup, DeadlineGroups } from './deadline-groups';
import type { Pass } from './pass';
import type { PathEvaluation } from './path-evaluation';
import type { PathIndex } from './path-index';
import type { PathChecker } from './path-checker';
import type { VerdictState } from './verdict-state';

export type DeadlineItem = DeadlineGroup<PathEvaluation>;
export type TimerItem = DeadlineItem | ExpiryItem;

/** The judge's parts a pass works on. */
export interface PassParts {
  readonly history: InterfaceHistory;
  readonly localRoutes: LocalRoutes;
  readonly index: PathIndex<PathEvaluation>;
  readonly lifetimes: Lifetimes<DeadlineItem>;
  readonly deadlines: DeadlineGroups<PathEvaluation, ExpiryItem>;
  readonly checker: PathChecker;
  readonly verdicts: VerdictState;
  allEvaluations(): PathEvaluation[];
}

/** The checks one event calls for; `changed`: what it did to new connections' lookups (see new-connections.ts). */
export function checkEvent(event: NetworkEvent, changed: 'all' | 'covered' | 'none', view: NetworkStateView, pass: Pass, parts: PassParts): void {
  const { history, index, lifetimes, checker } = parts;
  const removed = 'action' in event && event.action === 'removed';
  switch (event.type) {
    case 'address': {
      const a = event.address;
      history.onAddress(a, removed, pass.now);
      if (index.hasLocal(addressText(a))) lifetimes.onAddress(a.index, addressText(a), removed);
      const { own, sharing } = pathsAffectedByAddress(index, a, event.action === 'changed' ? event.previous : null);
      checker.checkEach(own, pass, 'event');
      checker.checkSources(sharing, pass);
      return;
    }
    case 'link':
      if (removed) history.onLinkRemoved(event.link);
      checker.checkAll(pathsAffectedByLink(index, event.link, event.previous, removed), pass, 'event');
      return;
    case 'route': {
      const { route, previous } = event;
      lifetimes.onRoute(route, removed, pass.now);
      parts.localRoutes.onRoute(route, removed);
      // A refresh that only moved `expires` (RA, userspace-managed routes) changes no path.
      if (event.action === 'changed' && previous && onlyExpiryChanged(previous, route)) return;
      const covered = pathsCoveredBy(index, route);
      if (changed === 'covered') checker.newConnections.forget(covered.map((ev) => ev.path));
      checker.checkAll(covered, pass, 'event');
      // An AnyIP route that came or went: the sources it covers are (no longer) local.
      const isAddress = (ip: string) => view.findAddresses(ip).length > 0 || history.lastSeenOn(ip) !== null;
      checker.checkAll(pathsSourcedBy(index, route, isAddress), pass, 'event');
      return;
    }
    case 'nexthop':
      checker.checkAll(pathsUsingNexthop(index, view, [event.nexthop, event.previous]), pass, 'event');
      return;
    case 'rule':
      // Policy rules change reachability with no route event: the kernel's lookups decide.
      checker.checkAll(pathsSelectedBy(index, [event.rule, event.previous]), pass, 'event');
      return;
    case 'neighbour': {
      const n = event.neighbour;
      if (!neighbourMatters(n, event.previous, removed)) return;
      checker.checkAll(index.viaNextHop(nextHopKey(n)), pass, 'event');
      // IPv6 lookups pass over a route whose gateway's entry is FAILED for another route
      // (rt6_score_route: RT6_NUD_FAIL_HARD) and come back once it answers, with no route
      // event: when the neighbour is a router (a gateway of ours, a link-local address, or
      // flagged NTF_ROUTER), a path routed through any gateway may move either way.
      if (n.family === 6 && isRouter6(n, checker.gateways6)) checker.checkAll(pathsThroughGateways(index, 6), pass, 'event');
      return;
    }
    case 'resync':
      // The differences came just before as ordinary events. Lifetimes come from the
      // re-dump; the open windows are re-checked against the kernel, keeping their start,
      // deadline and evidence: a resync is neither churn nor a loss.
      for (const ev of parts.allEvaluations()) lifetimes.refreshAddress(view, ev.path.local, pass.now);
      checker.checkAll(parts.verdicts.suspects, pass, 'resync');
      return;
  }
}

/** The checks of the timer items due now: hold-down deadlines and foreseen expiries. */
export function checkDue(due: readonly TimerItem[], view: NetworkStateView, pass: Pass, parts: PassParts): void {
  const { index, lifetimes, checker } = parts;
  for (const item of due) {
    switch (item.kind) {
      case 'deadline':
        checker.checkDeadline(parts.deadlines.take(item), pass);
        break;
      case 'address-expiry': {
        lifetimes.addressFired(item.index, item.local);
        const summary = `valid lifetime of ${item.local} on ${linkLabel(view, item.index)} ends now`;
        for (const ev of index.withLocal(item.local)) {
          ev.addEvidence({ time: pass.now, kind: 'timer', summary });
          checker.check(ev, pass, 'expiry');
        }
        break;
      }
      case 'route-expiry': {
        const r = item.route;
        lifetimes.routeFired(r, view, pass.now);
        const summary = `route ${r.destination}/${r.destinationLength} (table ${r.table}) reached its foreseen expiry: asking the kernel`;
        for (const ev of pathsCoveredBy(index, r)) {
          if (pass.checked(ev)) continue;
          ev.addEvidence({ time: pass.now, kind: 'timer', summary });
          checker.check(ev, pass, 'expiry');
        }
        break;
      }
    }
  }
}
