/**
 * Facts for the differential check: what `ip -j` reports and what the mirror
 * holds, rendered the same way (one sorted string per object) so that a
 * mismatch shows exactly which fact differs.
 */
import { routeProtocolName, scopeName, tableName } from '../../src/netlink/flags';
import type { Address, Link, Route } from '../../src/netlink/types';
import type { NetworkStateView } from '../../src/netlink/view';
import type { NetNs } from './netns';

interface IpLink { ifindex: number; ifname: string; mtu: number; operstate: string; address?: string; flags: string[] }
interface IpAddrInfo { family: string; local: string; prefixlen: number; scope: string; tentative?: boolean; dadfailed?: boolean; deprecated?: boolean; temporary?: boolean; noprefixroute?: boolean }
interface IpAddr { ifindex: number; addr_info: IpAddrInfo[] }
/** `ip -j` prints a gateway of the route's own family as `gateway`, another family's as `via` (RFC 5549). */
interface IpVia { via?: { family: string; host: string } }
interface IpNexthop extends IpVia { gateway?: string; dev: string; weight?: number }
interface IpRoute extends IpVia {
  type?: string; dst: string; gateway?: string; dev?: string; protocol?: string; scope?: string; prefsrc?: string;
  metric?: number; table?: string; nexthops?: IpNexthop[]; nhid?: number;
}

export function linkFact(l: { index: number; name: string; mtu: number; up: boolean; hw: string | null }): string {
  return `${l.index} ${l.name} mtu=${l.mtu} up=${l.up} hw=${l.hw ?? '-'}`;
}

export function addressFact(a: { index: number; family: string; local: string; plen: number; scope: string; flags: string[] }): string {
  return `${a.index} ${a.family} ${a.local}/${a.plen} scope=${a.scope} ${[...a.flags].sort().join(',')}`;
}

export function routeFact(r: {
  table: string; family: number; type: string; dst: string; gateway?: string; dev?: string; proto: string;
  scope: string; prefsrc?: string; metric: number; nexthops?: string[]; nhid?: number;
}): string {
  return [
    `t=${r.table}`, `v${r.family}`, r.type, r.dst, `via=${r.gateway ?? '-'}`, `dev=${r.dev ?? '-'}`,
    `proto=${r.proto}`, `scope=${r.scope}`, `src=${r.prefsrc ?? '-'}`, `metric=${r.metric}`,
    `nh=${(r.nexthops ?? []).join('|')}`, `nhid=${r.nhid ?? '-'}`,
  ].join(' ');
}

const ADDR_FLAGS = ['tentative', 'dadfailed', 'deprecated', 'temporary', 'noprefixroute'] as const;

export function kernelFacts(ns: NetNs): { links: string[]; addresses: string[]; routes: string[] } {
  const links = ns.ipJson<IpLink[]>('link show').map((l) =>
    linkFact({ index: l.ifindex, name: l.ifname, mtu: l.mtu, up: l.flags.includes('UP'), hw: l.address && l.address !== '00:00:00:00:00:00' ? l.address : l.address ?? null }),
  );
  const addresses = ns.ipJson<IpAddr[]>('addr show').flatMap((l) =>
    l.addr_info.map((a) =>
      addressFact({
        index: l.ifindex, family: a.family, local: a.local, plen: a.prefixlen, scope: a.scope,
        flags: ADDR_FLAGS.filter((f) => a[f]),
      }),
    ),
  );
  const devIndex = new Map(ns.ipJson<IpLink[]>('link show').map((l) => [l.ifname, l.ifindex]));
  const routes: string[] = [];
  for (const family of [4, 6] as const) {
    for (const r of ns.ipJson<IpRoute[]>(`-${family} route show table all`)) {
      routes.push(
        routeFact({
          table: r.table ?? 'main', family, type: r.type ?? 'unicast', dst: r.dst,
          gateway: r.gateway ?? r.via?.host, dev: r.dev ? `${devIndex.get(r.dev)}` : undefined,
          proto: r.protocol ?? 'boot', scope: r.scope ?? 'global', prefsrc: r.prefsrc, metric: r.metric ?? 0,
          nexthops: r.nexthops?.map((h) => `${h.gateway ?? h.via?.host ?? '-'}@${devIndex.get(h.dev)}*${h.weight ?? 1}`),
          nhid: r.nhid,
        }),
      );
    }
  }
  return { links: links.sort(), addresses: addresses.sort(), routes: routes.sort() };
}

function ipDst(r: Route): string {
  const max = r.family === 4 ? 32 : 128;
  if (r.destinationLength === 0) return 'default';
  return r.destinationLength === max ? r.destination : `${r.destination}/${r.destinationLength}`;
}

export function mirrorFacts(state: NetworkStateView): { links: string[]; addresses: string[]; routes: string[] } {
  const links = [...state.links()].map((l: Link) =>
    linkFact({ index: l.index, name: l.name, mtu: l.mtu, up: l.up, hw: l.hardwareAddress }),
  );
  const flagBits: Record<(typeof ADDR_FLAGS)[number], number> = {
    tentative: 0x40, dadfailed: 0x08, deprecated: 0x20, temporary: 0x01, noprefixroute: 0x200,
  };
  const addresses = [...state.addresses()].map((a: Address) =>
    addressFact({
      index: a.index, family: a.family === 4 ? 'inet' : 'inet6', local: a.local ?? a.address,
      plen: a.prefixLength, scope: scopeName(a.scope),
      // IFA_F_SECONDARY shares the bit of IFA_F_TEMPORARY: iproute2 calls it "temporary" only for IPv6.
      flags: ADDR_FLAGS.filter((f) => a.flags & flagBits[f] && !(f === 'temporary' && a.family === 4)),
    }),
  );
  return { links: links.sort(), addresses: addresses.sort(), routes: routeFacts(state.routes()) };
}

/** Routes as routeFact strings, sorted (mirrorFacts' routes; also for `dump --json` output). */
export function routeFacts(routes: Iterable<Route>): string[] {
  return [...routes].map((r: Route) =>
    routeFact({
      table: tableName(r.table), family: r.family, type: r.type, dst: ipDst(r), gateway: r.gateway ?? undefined,
      dev: r.oif !== null ? `${r.oif}` : undefined, proto: routeProtocolName(r.protocol), scope: scopeName(r.scope),
      prefsrc: r.preferredSource ?? undefined, metric: r.metric ?? 0,
      nexthops: r.multipath?.map((h) => `${h.gateway ?? '-'}@${h.index}*${h.weight}`),
      nhid: r.nexthopId ?? undefined,
    }),
  ).sort();
}

/**
 * Waits until the mirror holds exactly what `ip -j` reports (the mirror trails the kernel
 * by the time an event takes to arrive), for at most `timeoutMs`; returns both views for
 * the caller to assert on, so a mismatch shows which fact differs.
 */
export async function settledFacts(
  ns: NetNs,
  state: NetworkStateView,
  timeoutMs = 3000,
): Promise<{ kernel: ReturnType<typeof kernelFacts>; mirror: ReturnType<typeof mirrorFacts> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const kernel = kernelFacts(ns);
    const mirror = mirrorFacts(state);
    if (JSON.stringify(kernel) === JSON.stringify(mirror) || Date.now() >= deadline) return { kernel, mirror };
    await new Promise((r) => setTimeout(r, 50));
  }
}
