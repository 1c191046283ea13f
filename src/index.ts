/**
 * routeguard: keep long-lived connections alive through network churn, close
 * them promptly when their route is really gone.
 *
 * Layer 1 (this file's first block): the netlink monitor and its mirror.
 */
export { NetlinkMonitor, MONITOR_DEFAULTS } from './monitor';
export type { MonitorOptions, MonitorStats, NetlinkMonitorEvents } from './monitor';
export { NetworkState } from './mirror/network-state';
export type * from './netlink/types';
export type { NetworkSource, NetworkStateView, RouteLookupResult } from './netlink/view';
export { normalizeIp, parseIp, formatIp, isIPv6LinkLocal } from './netlink/ip';
export {
  addressFlagNames,
  linkFlagNames,
  routeProtocolName,
  scopeName,
  tableName,
} from './netlink/flags';
export * from './errors';
