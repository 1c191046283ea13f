/** Human-readable one-line renderings of links, addresses, routes and events (like `ip`). */
import { addressFlagNames, linkFlagNames, routeProtocolName, scopeName, tableName } from '../netlink/flags';
import type { Address, Link, NetworkEvent, Nexthop, Route } from '../netlink/types';

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
    case 'synced':
      return `synced: ${e.links} links, ${e.addresses} addresses, ${e.routes} routes, ${e.nexthops} nexthops`;
    case 'resync':
      return `resync (${e.reason}): ${e.added} added, ${e.changed} changed, ${e.removed} removed`;
    case 'dropped':
      return `dropped ${e.count} message(s): ${e.reason}`;
  }
}
