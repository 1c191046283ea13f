/**
 * routeguard: keep long-lived connections alive through network churn, close
 * them promptly when their route is really gone.
 *
 * Layer 1 (this file's first block): the netlink monitor and its mirror.
 */
export { NetlinkMonitor, MONITOR_DEFAULTS } from './monitor';
export type { MonitorOptions, MonitorStats, NetlinkMonitorEvents } from './monitor';
export { NetworkState, type RouteMode, type NetworkStateOptions } from './mirror/network-state';
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

// Layer 2: path verdicts (src/judge) — is a path viable, suspect or really gone, and why.
export { PathJudge } from './judge/path-judge';
export { realClock, VirtualClock } from './judge/clock';
export { DEFAULT_HOLD_DOWNS, JUDGE_DEFAULTS } from './judge/hold-downs';
export { normalizePathSpec } from './judge/path-spec';
export { MemoryNetworkState } from './judge/memory-network';
export type { NetworkSnapshot } from './judge/memory-network';
export { resolveRoute } from './judge/route-resolver';
export { RecordingSource, parseRecording, RECORDING_FORMAT, RECORDING_VERSION } from './judge/recording';
export type { RecordingLine } from './judge/recording';
export { ReplaySource } from './judge/replay';
export type * from './judge/types';

// Layer 3: connections (src/connections) — close what is really cut off; hardened servers.
export * from './connections';
