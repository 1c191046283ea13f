/**
 * Facts for the differential check of policy rules and neighbours: what
 * `ip -j -d rule show` / `ip -j neigh show nud all` report and what the mirror holds,
 * rendered the same way. Rules stay in order (the order is a fact); neighbours are sorted.
 */
import { routeProtocolName, tableName } from '../../src/netlink/flags';
import type { Neighbour, Rule } from '../../src/netlink/types';
import type { NetworkStateView } from '../../src/netlink/view';
import type { NetNs } from './netns';

interface IpRule {
  priority: number; not?: null; src: string; srclen?: number; dst?: string; dstlen?: number; tos?: string;
  fwmark?: string; fwmask?: string; iif?: string; oif?: string; uid_start?: number; uid_end?: number;
  ipproto?: string; sport?: number; sport_start?: number; sport_end?: number; dport?: number;
  dport_start?: number; dport_end?: number; table?: string; action?: string; nop?: null; goto?: number;
  suppress_prefixlen?: number; suppress_ifgroup?: string; l3mdev?: null; protocol?: string;
}
interface IpNeigh { dst: string; dev: string; lladdr?: string; router?: null; state: string[] }

const IP_PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, 'ipv6-icmp': 58 };
const NUD = ['INCOMPLETE', 'REACHABLE', 'STALE', 'DELAY', 'PROBE', 'FAILED', 'NOARP', 'PERMANENT'];
const NTF_ROUTER = 0x80;

interface RuleFacts {
  priority: number; invert: boolean; from: string; to: string; tos: number; mark: string; iif: string; oif: string;
  uid: string; ipproto: string; sport: string; dport: string; action: string; table: string; suppress: string;
  ifgroup: string; goto: string; l3mdev: boolean; proto: string;
}

function ruleFact(r: RuleFacts): string {
  return [
    r.priority, r.invert ? 'not' : '', `from=${r.from}`, `to=${r.to}`, `tos=${r.tos}`, `mark=${r.mark}`,
    `iif=${r.iif}`, `oif=${r.oif}`, `uid=${r.uid}`, `ipproto=${r.ipproto}`, `sport=${r.sport}`, `dport=${r.dport}`,
    r.action, `table=${r.table}`, `suppress=${r.suppress}`, `ifgroup=${r.ifgroup}`, `goto=${r.goto}`, r.l3mdev ? 'l3mdev' : '', `proto=${r.proto}`,
  ].join(' ');
}

function ipPrefix(address: string | undefined, length: number | undefined, family: 4 | 6): string {
  if (address === undefined || address === 'all') return '-';
  return `${address}/${length ?? (family === 4 ? 32 : 128)}`;
}

const range = (start?: number, end?: number, single?: number) =>
  single !== undefined ? `${single}-${single}` : start !== undefined ? `${start}-${end}` : '-';

function ipAction(r: IpRule): string {
  if (r.action) return r.action;
  if ('nop' in r) return 'nop';
  if (r.goto !== undefined) return 'goto';
  return 'to-table';
}

export function kernelRules(ns: NetNs, family: 4 | 6): string[] {
  return ns.ipJson<IpRule[]>(`-${family} -d rule show`).map((r) => {
    const action = ipAction(r);
    return ruleFact({
      priority: r.priority, invert: 'not' in r, from: ipPrefix(r.src, r.srclen, family),
      to: ipPrefix(r.dst, r.dstlen, family), tos: r.tos ? Number(r.tos) : 0,
      mark: r.fwmark ? `${Number(r.fwmark)}/${r.fwmask ? Number(r.fwmask) : 0xffffffff}` : '-',
      iif: r.iif ?? '-', oif: r.oif ?? '-', uid: range(r.uid_start, r.uid_end),
      ipproto: r.ipproto ? `${IP_PROTOCOLS[r.ipproto] ?? r.ipproto}` : '-',
      sport: range(r.sport_start, r.sport_end, r.sport), dport: range(r.dport_start, r.dport_end, r.dport),
      // ip prints no table for rules whose action is not a lookup (their FRA_TABLE is 0).
      action, table: action === 'to-table' ? (r.table ?? '-') : '-',
      suppress: r.suppress_prefixlen !== undefined ? `${r.suppress_prefixlen}` : '-',
      ifgroup: r.suppress_ifgroup ?? '-', goto: r.goto !== undefined ? `${r.goto}` : '-', l3mdev: 'l3mdev' in r,
      proto: r.protocol ?? '-',
    });
  });
}

export function mirrorRules(state: NetworkStateView, family: 4 | 6): string[] {
  return state.rules(family).map((r: Rule) =>
    ruleFact({
      priority: r.priority, invert: r.invert, from: r.source ? `${r.source}/${r.sourceLength}` : '-',
      to: r.destination ? `${r.destination}/${r.destinationLength}` : '-', tos: r.tos,
      mark: r.fwmark !== null ? `${r.fwmark}/${r.fwmask}` : '-', iif: r.iifName ?? '-', oif: r.oifName ?? '-',
      uid: r.uidRange ? `${r.uidRange.start}-${r.uidRange.end}` : '-',
      ipproto: r.ipProtocol !== null ? `${r.ipProtocol}` : '-',
      sport: r.sourcePorts ? `${r.sourcePorts.start}-${r.sourcePorts.end}` : '-',
      dport: r.destinationPorts ? `${r.destinationPorts.start}-${r.destinationPorts.end}` : '-',
      // An l3mdev rule's table is 0: the VRF device's own table is looked up.
      action: r.action, table: r.action === 'to-table' && !r.l3mdev ? tableName(r.table) : '-',
      suppress: r.suppressPrefixLength !== null ? `${r.suppressPrefixLength}` : '-',
      ifgroup: r.suppressIfGroup !== null ? `${r.suppressIfGroup}` : '-', goto: r.goto !== null ? `${r.goto}` : '-',
      l3mdev: r.l3mdev, proto: routeProtocolName(r.protocol),
    }),
  );
}

function neighbourFact(n: { index: number; dst: string; lladdr?: string; router: boolean; states: string[] }): string {
  return `${n.index} ${n.dst} lladdr=${n.lladdr ?? '-'} router=${n.router} ${n.states.join(',')}`;
}

/** Without NOARP entries, which the mirror leaves out (see BatchApplier.applyNeighbour in src/mirror/batch-apply.ts). */
export function kernelNeighbours(ns: NetNs): string[] {
  const devIndex = new Map(ns.ipJson<Array<{ ifname: string; ifindex: number }>>('link show').map((l) => [l.ifname, l.ifindex]));
  return ns
    .ipJson<IpNeigh[]>('neigh show nud all')
    .filter((n) => !n.state.includes('NOARP'))
    .map((n) => neighbourFact({ index: devIndex.get(n.dev)!, dst: n.dst, lladdr: n.lladdr, router: 'router' in n, states: n.state }))
    .sort();
}

export function mirrorNeighbours(state: NetworkStateView): string[] {
  return [...state.neighbours()]
    .map((n: Neighbour) =>
      neighbourFact({
        index: n.index, dst: n.address, lladdr: n.linkAddress ?? undefined, router: (n.flags & NTF_ROUTER) !== 0,
        states: n.state === 0 ? ['NONE'] : NUD.filter((_, bit) => n.state & (1 << bit)),
      }),
    )
    .sort();
}
