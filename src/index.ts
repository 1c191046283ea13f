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
export { RouteQueryBatch } from './netlink/query-batch';
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
export { MemoryNetworkState } from './replay/memory-network';
export type { NetworkSnapshot } from './replay/memory-network';
export { resolveRoute } from './replay/route-resolver';
export { RecordingSource, parseRecording, readRecording, RECORDING_FORMAT, RECORDING_VERSION } from './replay/recording';
export type { SkippedLine } from './replay/recording';
export type { RecordingLine } from './replay/recording';
export { ReplaySource } from './replay/replay';
export type * from './judge/types';

// Layer 3: connections (src/connections) — close what is really cut off; hardened servers.
export * from './connections';

// Operator visibility: Prometheus metrics through the optional peer dependency prom-client.
export { registerMetrics, MetricsUnavailableError } from './metrics/register';
export type { MetricsHandle, RegisterMetricsOptions, RegistryLike } from './metrics/register';
export { METRICS } from './metrics/catalog';
export type { MetricSpec, MetricType } from './metrics/catalog';
export type { ProofOfLife, SocketSample } from './judge/evidence/socket';

// `import routeguard from 'routeguard'` (ESM, bundlers, TypeScript's esModuleInterop): the default
// export is this module's exports object itself, so default and named imports see the same
// classes. The ESM entry (esm/index.mjs) re-exports the same object.
const routeguard: typeof import('./index') = module.exports;
export default routeguard;
