/** Kernel constants and their iproute2 names, for display and for rules. */

// IFA_F_* (include/uapi/linux/if_addr.h)
export const IFA_F_SECONDARY = 0x01; // also IFA_F_TEMPORARY for IPv6
export const IFA_F_TEMPORARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;
export const IFA_F_STABLE_PRIVACY = 0x800;

const ADDRESS_FLAG_NAMES: Array<[number, string, string]> = [
  // [bit, IPv4 name, IPv6 name]
  [IFA_F_SECONDARY, 'secondary', 'temporary'],
  [IFA_F_NODAD, 'nodad', 'nodad'],
  [IFA_F_OPTIMISTIC, 'optimistic', 'optimistic'],
  [IFA_F_DADFAILED, 'dadfailed', 'dadfailed'],
  [IFA_F_HOMEADDRESS, 'home', 'home'],
  [IFA_F_DEPRECATED, 'deprecated', 'deprecated'],
  [IFA_F_TENTATIVE, 'tentative', 'tentative'],
  [IFA_F_PERMANENT, 'permanent', 'permanent'],
  [IFA_F_MANAGETEMPADDR, 'mngtmpaddr', 'mngtmpaddr'],
  [IFA_F_NOPREFIXROUTE, 'noprefixroute', 'noprefixroute'],
  [IFA_F_MCAUTOJOIN, 'autojoin', 'autojoin'],
  [IFA_F_STABLE_PRIVACY, 'stable-privacy', 'stable-privacy'],
];

export function addressFlagNames(flags: number, family: 4 | 6): string[] {
  const out: string[] = [];
  for (const [bit, v4, v6] of ADDRESS_FLAG_NAMES) if (flags & bit) out.push(family === 4 ? v4 : v6);
  return out;
}

// IFF_* (include/uapi/linux/if.h)
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;
export const IFF_DORMANT = 0x20000;

const LINK_FLAG_NAMES: Array<[number, string]> = [
  [IFF_LOOPBACK, 'LOOPBACK'],
  [IFF_BROADCAST, 'BROADCAST'],
  [IFF_POINTOPOINT, 'POINTOPOINT'],
  [IFF_MULTICAST, 'MULTICAST'],
  [IFF_NOARP, 'NOARP'],
  [IFF_PROMISC, 'PROMISC'],
  [IFF_UP, 'UP'],
  [IFF_RUNNING, 'RUNNING'],
  [IFF_LOWER_UP, 'LOWER_UP'],
  [IFF_DORMANT, 'DORMANT'],
];

export function linkFlagNames(flags: number): string[] {
  return LINK_FLAG_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name);
}

// RTNH_F_* (route and nexthop flags)
export const RTNH_F_DEAD = 0x1;
export const RTNH_F_ONLINK = 0x4;
export const RTNH_F_LINKDOWN = 0x10;

// RTPROT_* names as iproute2 prints them (/usr/share/iproute2/rt_protos).
const PROTOCOL_NAMES: Record<number, string> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt',
  11: 'zebra', 12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 17: 'mrouted',
  18: 'keepalived', 42: 'babel', 99: 'openr', 186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip',
  192: 'eigrp',
};

export function routeProtocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? String(protocol);
}

// RT_SCOPE_*
const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

export function scopeName(scope: number): string {
  return SCOPE_NAMES[scope] ?? String(scope);
}

// RT_TABLE_*
const TABLE_NAMES: Record<number, string> = { 0: 'unspec', 253: 'default', 254: 'main', 255: 'local' };

export function tableName(table: number): string {
  return TABLE_NAMES[table] ?? String(table);
}
