/** Shared set-up for the judge's virtual-clock scenarios: one host, one or two uplinks, a peer per family. */
import { VirtualClock } from '../../src/judge/clock';
import { DEFAULT_HOLD_DOWNS, JUDGE_DEFAULTS } from '../../src/judge/hold-downs';
import { PathJudge } from '../../src/judge/path-judge';
import type { JudgeOptions, PathSpec, PathWatch, VerdictReason } from '../../src/judge/types';
import { IFA_F_PERMANENT, IFA_F_TENTATIVE } from '../../src/netlink/flags';
import { FakeNetwork } from '../helpers/fake-network';

export const V4 = { local: '192.0.2.10', gateway: '192.0.2.1', peer: '198.51.100.7' };
export const V6 = { local: '2001:db8:1::10', gateway: 'fe80::1', peer: '2001:db8:ff::7' };
/** The second uplink's addresses (addSecondUplink). */
export const UPLINK2 = { v4: '203.0.113.10', gateway4: '203.0.113.1', v6: '2001:db8:2::10', gateway6: 'fe80::2' };

export const HOLD = DEFAULT_HOLD_DOWNS;
/** The default cap: how long a path with no other way to its peer is given. */
export const CAP = JUDGE_DEFAULTS.maxSuspectMs;

/**
 * A second uplink, eth1, with its own addresses and default routes of a higher metric
 * (Wi-Fi next to Ethernet, LTE failover): a path from eth0 that breaks has an alternative.
 */
export function addSecondUplink(net: FakeNetwork): number {
  const eth1 = net.addLink('eth1');
  net.addAddress(eth1, `${UPLINK2.v4}/24`);
  net.addRoute({ to: 'default', via: UPLINK2.gateway4, dev: eth1, protocol: 16, metric: 200 });
  net.addAddress(eth1, 'fe80::20/64');
  net.addAddress(eth1, `${UPLINK2.v6}/64`);
  net.addRoute({ to: 'default6', via: UPLINK2.gateway6, dev: eth1, protocol: 9, metric: 2048 });
  return eth1;
}

export interface Seen {
  /** ms since the scenario's start. */
  at: number;
  event: 'suspect' | 'recovered' | 'gone' | 'changed';
  reason?: VerdictReason;
  deadline?: number;
  oif?: number | null;
  source?: string | null;
}

export interface Host {
  clock: VirtualClock;
  net: FakeNetwork;
  eth0: number;
  /** Verdicts as [ms since t0, event, reason] triples. */
  verdicts(seen: Seen[]): Array<[number, string, VerdictReason | undefined]>;
  judge: PathJudge;
  t0: number;
  /** Watches a path and records what it emits, with times relative to t0. */
  watch(spec: PathSpec): { watch: PathWatch; seen: Seen[] };
  /** Runs the scripted steps and the judge's timers up to t0 + ms. */
  runUntil(ms: number): void;
  /** A manager deletes eth0's configuration: both addresses and the IPv6 default route (IPv4's goes with its address). */
  deconfigure(): void;
  /** A manager restores eth0's configuration of one family (IPv6 re-added tentative, as with DAD). */
  reconfigure(family: 4 | 6): void;
}

/** eth0 with 192.0.2.10/24 + default via 192.0.2.1, and 2001:db8:1::10/64 + default via fe80::1. */
/** Gives a fake network the host's eth0 (see makeHost); returns its index. */
export function configureHost(net: FakeNetwork): number {
  const eth0 = net.addLink('eth0');
  net.addAddress(eth0, `${V4.local}/24`);
  net.addRoute({ to: 'default', via: V4.gateway, dev: eth0, protocol: 16 });
  net.addAddress(eth0, 'fe80::10/64');
  net.addAddress(eth0, `${V6.local}/64`);
  net.addRoute({ to: 'default6', via: V6.gateway, dev: eth0, protocol: 9 });
  return eth0;
}

export function makeHost(options: JudgeOptions = {}, build?: (net: FakeNetwork, eth0: number) => void): Host {
  const clock = new VirtualClock(1_000_000);
  const net = new FakeNetwork(clock);
  const eth0 = configureHost(net);
  build?.(net, eth0);
  const judge = new PathJudge(net, { clock, ...options });
  const t0 = clock.now();
  return {
    clock,
    net,
    eth0,
    judge,
    t0,
    verdicts: (seen) => seen.filter((s) => s.event !== 'changed').map((s) => [s.at, s.event, s.reason]),
    watch(spec) {
      const watch = judge.watch(spec);
      const seen: Seen[] = [];
      const at = () => clock.now() - t0;
      watch.on('suspect', (i) => seen.push({ at: at(), event: 'suspect', reason: i.reason, deadline: i.deadline - t0 }));
      watch.on('recovered', (i) => seen.push({ at: at(), event: 'recovered', reason: i.reason }));
      watch.on('gone', (i) => seen.push({ at: at(), event: 'gone', reason: i.reason }));
      watch.on('changed', (i) => seen.push({ at: at(), event: 'changed', oif: i.current.oif, source: i.current.preferredSource }));
      return { watch, seen };
    },
    runUntil(ms) {
      clock.advanceTo(t0 + ms);
    },
    deconfigure() {
      net.removeAddress(eth0, V4.local);
      net.removeAddress(eth0, V6.local);
      net.removeRoute({ to: 'default6', via: V6.gateway, dev: eth0 });
    },
    reconfigure(family) {
      if (family === 4) {
        net.addAddress(eth0, `${V4.local}/24`);
        net.addRoute({ to: 'default', via: V4.gateway, dev: eth0, protocol: 16 });
      } else {
        net.addAddress(eth0, `${V6.local}/64`, { flags: IFA_F_PERMANENT | IFA_F_TENTATIVE });
        net.addRoute({ to: 'default6', via: V6.gateway, dev: eth0, protocol: 9 });
      }
    },
  };
}
