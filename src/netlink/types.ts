/**
 * Typed views of what the kernel reports over NETLINK_ROUTE. These are plain,
 * JSON-serialisable objects: `routeguard dump --json` prints them as they are.
 */

export type Family = 4 | 6;

/** IFLA_OPERSTATE as named by RFC 2863 / iproute2. */
export type OperState =
  | 'unknown'
  | 'notpresent'
  | 'down'
  | 'lowerlayerdown'
  | 'testing'
  | 'dormant'
  | 'up';

export interface Link {
  index: number;
  name: string;
  /** IFF_* bits as the kernel sent them. */
  flags: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING: operationally up (RFC 2863 "up"). */
  running: boolean;
  /** IFF_LOWER_UP: the driver reports carrier. */
  lowerUp: boolean;
  operstate: OperState;
  /** IFLA_CARRIER; null when the kernel did not say. */
  carrier: boolean | null;
  mtu: number;
  /** IFLA_INFO_KIND ("veth", "bridge", ...); null for plain devices. */
  kind: string | null;
  /** Index of the master (bridge/bond/vrf), null when none. */
  master: number | null;
  /** "aa:bb:cc:dd:ee:ff", null when the link has none. */
  hardwareAddress: string | null;
  /** ARPHRD_* link type. */
  type: number;
}

export interface Address {
  family: Family;
  /** Interface index. IPv6 link-local addresses only mean something with it. */
  index: number;
  prefixLength: number;
  /** RT_SCOPE_* (0 global, 200 site, 253 link, 254 host). */
  scope: number;
  /** The full 32-bit IFA_FLAGS (IFA_F_*): see `addressFlagNames()`. */
  flags: number;
  /** IFA_ADDRESS: the address (IPv6) or the peer address (IPv4 point-to-point). */
  address: string;
  /** IFA_LOCAL: the local address (IPv4); null when absent (always for IPv6). */
  local: string | null;
  /** IFA_LABEL, IPv4 only. */
  label: string | null;
  /** Seconds of preferred lifetime left when reported; null = forever. */
  preferredLifetime: number | null;
  /** Seconds of valid lifetime left when reported; null = forever. */
  validLifetime: number | null;
}

export interface RouteNexthop {
  /** Output interface of this nexthop. */
  index: number;
  /** RTNH_F_* (dead, pervasive, onlink, offload, linkdown, unresolved). */
  flags: number;
  /** rtnh_hops + 1. */
  weight: number;
  gateway: string | null;
}

export type RouteType =
  | 'unspec'
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'anycast'
  | 'multicast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw'
  | 'nat'
  | 'xresolve'
  | `type-${number}`;

export interface Route {
  family: Family;
  /** RTA_TABLE (254 main, 255 local, ...). */
  table: number;
  type: RouteType;
  /** RTPROT_* number (2 kernel, 3 boot, 4 static, 186 bgp, ...): see `routeProtocolName()`. */
  protocol: number;
  scope: number;
  /** Destination prefix address; "0.0.0.0"/"::" with length 0 for a default route. */
  destination: string;
  destinationLength: number;
  /** RTA_SRC (source-specific IPv6 routing), null when absent. */
  source: string | null;
  sourceLength: number;
  tos: number;
  /** RTA_GATEWAY, or RTA_VIA (may be IPv6 for an IPv4 route). */
  gateway: string | null;
  /** RTA_PREFSRC. */
  preferredSource: string | null;
  /** RTA_OIF. */
  oif: number | null;
  /** RTA_IIF (set on lookups of forwarded traffic). */
  iif: number | null;
  /** RTA_PRIORITY: the metric. */
  metric: number | null;
  /** RTA_PREF (IPv6 router preference). */
  preference: number | null;
  /** Seconds until the kernel expires this route; null when it does not. */
  expires: number | null;
  /** RTA_NH_ID: the nexthop object this route uses. */
  nexthopId: number | null;
  /** rtm_flags (RTNH_F_LINKDOWN, RTM_F_CLONED, ...). */
  flags: number;
  mtu: number | null;
  /** RTA_MULTIPATH nexthops, null for single-path routes. */
  multipath: RouteNexthop[] | null;
}

export interface NexthopGroupMember {
  id: number;
  weight: number;
}

/** A nexthop object (RTM_NEWNEXTHOP, `ip nexthop`). */
export interface Nexthop {
  id: number;
  family: Family | 0;
  protocol: number;
  flags: number;
  oif: number | null;
  gateway: string | null;
  blackhole: boolean;
  fdb: boolean;
  group: NexthopGroupMember[] | null;
}

/** FRA_* rule action (FR_ACT_*), as `ip rule` names it. */
export type RuleAction =
  | 'to-table'
  | 'goto'
  | 'nop'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | `action-${number}`;

/** A policy routing rule (RTM_NEWRULE, `ip rule`). */
export interface Rule {
  family: Family;
  /** FRA_PRIORITY: lower runs first. */
  priority: number;
  action: RuleAction;
  /** FRA_TABLE (or the header's table): the table a 'to-table' rule looks up. */
  table: number;
  /** FIB_RULE_INVERT and friends (fib_rule_hdr.flags). */
  flags: number;
  /** True when FIB_RULE_INVERT is set: the selector matches what it would not. */
  invert: boolean;
  /** FRA_SRC prefix ("from"), null = all. */
  source: string | null;
  sourceLength: number;
  /** FRA_DST prefix ("to"), null = all. */
  destination: string | null;
  destinationLength: number;
  tos: number;
  /** FRA_FWMARK / FRA_FWMASK; null when the rule does not match on marks. */
  fwmark: number | null;
  fwmask: number | null;
  /** FRA_IIFNAME / FRA_OIFNAME. */
  iifName: string | null;
  oifName: string | null;
  /** FRA_SUPPRESS_PREFIXLEN (wg-quick's `suppress_prefixlength 0`); null when unset. */
  suppressPrefixLength: number | null;
  /** FRA_SUPPRESS_IFGROUP; null when unset. */
  suppressIfGroup: number | null;
  /** FRA_GOTO target priority. */
  goto: number | null;
  /** FRA_UID_RANGE; null when unset. */
  uidRange: { start: number; end: number } | null;
  /** FRA_IP_PROTO; null when unset. */
  ipProtocol: number | null;
  /** FRA_SPORT_RANGE / FRA_DPORT_RANGE; null when unset. */
  sourcePorts: { start: number; end: number } | null;
  destinationPorts: { start: number; end: number } | null;
  /** FRA_L3MDEV: look up the table of the VRF the packet's device belongs to. */
  l3mdev: boolean;
  /** FRA_PROTOCOL (RTPROT_*): who installed the rule. */
  protocol: number;
}

/** NUD_* names, one per state bit (`ip neigh` prints them upper case). */
export type NeighbourState =
  | 'incomplete'
  | 'reachable'
  | 'stale'
  | 'delay'
  | 'probe'
  | 'failed'
  | 'noarp'
  | 'permanent'
  | 'none';

/** A neighbour (ARP/NDP) entry (RTM_NEWNEIGH, `ip neigh`). */
export interface Neighbour {
  family: Family;
  index: number;
  /** NDA_DST. */
  address: string;
  /** NUD_* bits as the kernel sent them. */
  state: number;
  /** The state's name (the highest bit set), e.g. 'reachable', 'failed'. */
  stateName: NeighbourState;
  /** NTF_* flags (NTF_ROUTER for IPv6 routers, ...). */
  flags: number;
  /** NDA_LLADDR, null when unresolved. */
  linkAddress: string | null;
}

export type ChangeAction = 'added' | 'changed' | 'removed';

interface EventBase {
  /** Milliseconds on the monitor's clock (monotonic, epoch-based by default). */
  time: number;
}

export interface LinkEvent extends EventBase {
  type: 'link';
  action: ChangeAction;
  link: Link;
  /** What the mirror held before ('changed', 'removed'); null for 'added'. */
  previous: Link | null;
}

export interface AddressEvent extends EventBase {
  type: 'address';
  action: ChangeAction;
  address: Address;
  previous: Address | null;
}

export interface RouteEvent extends EventBase {
  type: 'route';
  action: ChangeAction;
  route: Route;
  previous: Route | null;
}

export interface NexthopEvent extends EventBase {
  type: 'nexthop';
  action: ChangeAction;
  nexthop: Nexthop;
  previous: Nexthop | null;
}

export interface RuleEvent extends EventBase {
  type: 'rule';
  action: ChangeAction;
  rule: Rule;
  previous: Rule | null;
}

export interface NeighbourEvent extends EventBase {
  type: 'neighbour';
  action: ChangeAction;
  neighbour: Neighbour;
  previous: Neighbour | null;
}

/** The initial dump is complete: the mirror reflects the kernel. */
export interface SyncedEvent extends EventBase {
  type: 'synced';
  links: number;
  addresses: number;
  routes: number;
  nexthops: number;
  rules: number;
  neighbours: number;
}

/**
 * The mirror re-dumped the kernel's state and emitted the real differences as
 * ordinary events; this notice follows them with the counts. Reasons: 'overflow'
 * (ENOBUFS: the kernel dropped events), 'lost' (a notification arrived cut or
 * malformed, so its change was not seen), 'incomplete' (a dump was interrupted by
 * concurrent changes on every attempt; retried with a backoff), 'requested' (resync() was called),
 * 'confirm' (a link changed state, after which the kernel may flush or flag
 * routes without telling anyone, so the mirror checks).
 */
export interface ResyncEvent extends EventBase {
  type: 'resync';
  reason: 'overflow' | 'lost' | 'incomplete' | 'requested' | 'confirm';
  added: number;
  changed: number;
  removed: number;
}

/** Messages the addon refused: not from the kernel, truncated, or malformed. */
export interface DroppedEvent extends EventBase {
  type: 'dropped';
  reason: 'not-from-kernel' | 'truncated' | 'malformed';
  count: number;
}

export type NetworkEvent =
  | LinkEvent
  | AddressEvent
  | RouteEvent
  | NexthopEvent
  | RuleEvent
  | NeighbourEvent
  | SyncedEvent
  | ResyncEvent
  | DroppedEvent;

/** A kernel route lookup (RTM_GETROUTE), like `ip route get TO [from FROM] [oif DEV] [mark M]`. */
export interface RouteQuery {
  to: string;
  from?: string;
  /** Output interface index. */
  oif?: number;
  /** Input interface index: look up as if forwarded from it. */
  iif?: number;
  mark?: number;
  uid?: number;
}
