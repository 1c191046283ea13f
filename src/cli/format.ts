/** Human-readable one-line renderings of links, addresses, routes, rules, neighbours and events (like `ip`). */
import { addressFlagNames, linkFlagNames, routeProtocolName, scopeName, tableName } from '../netlink/flags';
import type { Address, Link, Neighbour, NetworkEvent, Nexthop, Route, Rule } from '../netlink/types';

export type LinkNames = (index: number) => string;

export function formatLink(l: Link): string {
  const parts = [`${l.index}: ${l.name}`, `<${linkFlagNames(l.flags).join(',')}>`, `mtu ${l.mtu}`, `state ${l.operstate.toUpperCase()}`];
  if (l.kind) parts.push(l.kind);
  if (l.master !== null) parts.push(`master ${l.master}`);
  if (l.hardwareAddress) parts.push(`link ${l.hardwareAddress}`);
  return parts.join(' ');
}

export function formatAddress(a: Address, dev: LinkNames): string {
  const parts = [`${dev(a.index)}`, a.family === 4 ? 'inet' : 'inet6', `${a.local ?? a.address}/${a.prefixLength}`];
  if (a.local && a.local !== a.address) parts.push(`peer ${a.address}`);
  parts.push(`scope ${scopeName(a.scope)}`, ...addressFlagNames(a.flags, a.family));
  if (a.label && a.label !== dev(a.index)) parts.push(a.label);
  if (a.validLifetime !== null) parts.push(`valid_lft ${a.validLifetime}sec`, `preferred_lft ${a.preferredLifetime}sec`);
  return parts.join(' ');
}

export function formatRoute(r: Route, dev: LinkNames): string {
  const dst = r.destinationLength === 0 ? 'default' : `${r.destination}/${r.destinationLength}`;
  const parts: string[] = [];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(dst);
  if (r.source) parts.push(`from ${r.source}/${r.sourceLength}`);
  if (r.nexthopId !== null) parts.push(`nhid ${r.nexthopId}`);
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.oif !== null) parts.push(`dev ${dev(r.oif)}`);
  if (r.table !== 254) parts.push(`table ${tableName(r.table)}`);
  parts.push(`proto ${routeProtocolName(r.protocol)}`);
  if (r.scope !== 0) parts.push(`scope ${scopeName(r.scope)}`);
  if (r.preferredSource) parts.push(`src ${r.preferredSource}`);
  if (r.metric !== null) parts.push(`metric ${r.metric}`);
  if (r.expires !== null) parts.push(`expires ${r.expires}sec`);
  if (r.flags & 0x10) parts.push('linkdown');
  for (const h of r.multipath ?? []) {
    parts.push(`nexthop${h.gateway ? ` via ${h.gateway}` : ''} dev ${dev(h.index)} weight ${h.weight}`);
  }
  return parts.join(' ');
}

export function formatNexthop(n: Nexthop, dev: LinkNames): string {
  const parts = [`id ${n.id}`];
  if (n.group) parts.push(`group ${n.group.map((g) => (g.weight === 1 ? `${g.id}` : `${g.id},${g.weight}`)).join('/')}`);
  if (n.gateway) parts.push(`via ${n.gateway}`);
  if (n.oif !== null) parts.push(`dev ${dev(n.oif)}`);
  if (n.blackhole) parts.push('blackhole');
  if (n.fdb) parts.push('fdb');
  parts.push(`proto ${routeProtocolName(n.protocol)}`);
  return parts.join(' ');
}

function prefix(address: string | null, length: number): string {
  if (address === null) return 'all';
  return length === (address.includes(':') ? 128 : 32) ? address : `${address}/${length}`;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const IP_PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp' };
const ports = (p: { start: number; end: number }) => (p.start === p.end ? `${p.start}` : `${p.start}-${p.end}`);

/** Like a line of `ip rule` (priority first, selectors, then what the rule does). */
export function formatRule(r: Rule): string {
  const parts = [`${r.priority}:`];
  if (r.invert) parts.push('not');
  parts.push('from', prefix(r.source, r.sourceLength));
  if (r.destination !== null) parts.push('to', prefix(r.destination, r.destinationLength));
  if (r.tos !== 0) parts.push('tos', hex(r.tos));
  if (r.fwmark !== null) parts.push('fwmark', r.fwmask === 0xffffffff ? hex(r.fwmark) : `${hex(r.fwmark)}/${hex(r.fwmask ?? 0)}`);
  // FIB_RULE_IIF_DETACHED / OIF_DETACHED: the named device does not exist (now).
  if (r.iifName !== null) parts.push('iif', r.iifName, ...(r.flags & 0x8 ? ['[detached]'] : []));
  if (r.oifName !== null) parts.push('oif', r.oifName, ...(r.flags & 0x10 ? ['[detached]'] : []));
  if (r.l3mdev) parts.push('lookup [l3mdev-table]');
  if (r.uidRange) parts.push('uidrange', `${r.uidRange.start}-${r.uidRange.end}`);
  if (r.ipProtocol !== null) parts.push('ipproto', IP_PROTOCOLS[r.ipProtocol] ?? String(r.ipProtocol));
  if (r.sourcePorts) parts.push('sport', ports(r.sourcePorts));
  if (r.destinationPorts) parts.push('dport', ports(r.destinationPorts));
  if (r.action === 'to-table' && !r.l3mdev) parts.push('lookup', tableName(r.table));
  if (r.suppressPrefixLength !== null) parts.push('suppress_prefixlength', String(r.suppressPrefixLength));
  if (r.suppressIfGroup !== null) parts.push('suppress_ifgroup', String(r.suppressIfGroup));
  if (r.action === 'goto') {
    parts.push('goto', String(r.goto ?? 'none'));
    if (r.flags & 0x4) parts.push('[unresolved]'); // FIB_RULE_UNRESOLVED: no rule has that priority
  }
  else if (r.action !== 'to-table') parts.push(r.action);
  return parts.join(' ');
}

/** Like a line of `ip neigh` (the state upper case, `router` for NTF_ROUTER). */
export function formatNeighbour(n: Neighbour, dev: LinkNames): string {
  const parts = [n.address, 'dev', dev(n.index)];
  if (n.linkAddress !== null) parts.push('lladdr', n.linkAddress);
  if (n.flags & 0x80) parts.push('router');
  parts.push(n.stateName.toUpperCase());
  return parts.join(' ');
}

export function formatEvent(e: NetworkEvent, dev: LinkNames): string {
  switch (e.type) {
    case 'link':
      return `link ${e.action}: ${formatLink(e.link)}`;
    case 'address':
      return `address ${e.action}: ${formatAddress(e.address, dev)}`;
    case 'route':
      return `route ${e.action}: ${formatRoute(e.route, dev)}`;
    case 'nexthop':
      return `nexthop ${e.action}: ${formatNexthop(e.nexthop, dev)}`;
    case 'rule':
      return `rule ${e.action}: ${e.rule.family === 6 ? 'inet6 ' : ''}${formatRule(e.rule)}`;
    case 'neighbour':
      return `neighbour ${e.action}: ${formatNeighbour(e.neighbour, dev)}`;
    case 'synced':
      return (
        `synced: ${e.links} links, ${e.addresses} addresses, ${e.routes} routes, ${e.nexthops} nexthops, ` +
        `${e.rules} rules, ${e.neighbours} neighbours`
      );
    case 'resync':
      return `resync (${e.reason}): ${e.added} added, ${e.changed} changed, ${e.removed} removed`;
    case 'dropped':
      return `dropped ${e.count} message(s): ${e.reason}`;
  }
}
