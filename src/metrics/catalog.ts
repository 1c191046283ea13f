/**
 * Every metric routeguard registers, in one table: name, type, labels, help.
 * Names follow Prometheus conventions: the routeguard_ prefix, _total for
 * counters, base units (seconds). docs/connections.md lists the same table.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  name: string;
  type: MetricType;
  labels: readonly string[];
  help: string;
}

function m(name: string, type: MetricType, labels: readonly string[], help: string): MetricSpec {
  return { name: `routeguard_${name}`, type, labels, help };
}

export const METRICS = {
  // The monitor (NetlinkMonitor.stats() and its resync events).
  monitorMessages: m('monitor_messages_total', 'counter', [], 'Netlink messages the monitor received.'),
  monitorOverflows: m('monitor_overflows_total', 'counter', [], 'Receive-buffer overflows (ENOBUFS): the kernel dropped notifications.'),
  monitorResyncs: m('monitor_resyncs_total', 'counter', ['reason'], 'Re-dumps of the kernel state, by reason (overflow, lost, incomplete, requested, confirm).'),
  monitorDropped: m('monitor_dropped_messages_total', 'counter', ['reason'], 'Messages the monitor refused, by reason (not_from_kernel, truncated, malformed).'),
  // The judge (PathJudge.counters()).
  events: m('events_total', 'counter', [], 'Network events the judge received (rate() gives events per second).'),
  kernelLookups: m('kernel_lookups_total', 'counter', [], 'Kernel route lookups the judge made.'),
  paths: m('paths', 'gauge', [], 'Paths the judge is evaluating.'),
  suspects: m('suspects_total', 'counter', ['reason'], 'Paths that became suspect, by reason.'),
  churnRiddenOut: m('churn_ridden_out_total', 'counter', ['reason'], 'Suspect paths that recovered before their deadline (churn ridden out), by reason.'),
  verdicts: m('verdicts_total', 'counter', ['verdict', 'reason'], 'Verdicts given: verdict="gone" by reason, verdict="changed" (reason="path_changed").'),
  earlyConfirmations: m('early_confirmations_total', 'counter', ['evidence'], 'Losses confirmed before their hold-down ended, by the evidence that confirmed them (replacement).'),
  extensions: m('hold_down_extensions_total', 'counter', [], 'Hold-downs extended (no other path to the peer, or the address still tentative).'),
  // Connection guards (counters() and their events).
  connectionsTracked: m('connections_tracked', 'gauge', [], 'Connections tracked now.'),
  connectionsTrackedTotal: m('connections_tracked_total', 'counter', [], 'Connections ever tracked.'),
  connectionsClosed: m('connections_closed_total', 'counter', ['reason'], 'Connections the guard closed, by the reason their path was gone.'),
  connectionsKeptAlive: m('connections_kept_alive_total', 'counter', ['reason'], 'Connections whose path was judged gone but whose socket proved alive (kept), by reason.'),
  tcpInfoSamples: m('tcp_info_samples_total', 'counter', ['result'], 'tcp_info samples of suspect paths\' sockets (result="ok" or "unavailable").'),
  keepaliveProbes: m('keepalive_probes_total', 'counter', ['result'], 'Keepalive probes set on suspect paths\' sockets (result="set", "restored", "failed").'),
  eventToVerdict: m('event_to_verdict_seconds', 'histogram', ['verdict'], 'From the network event behind a verdict (as the monitor received it) to the verdict reaching the guard.'),
  // Hardened servers (health()).
  serverErrors: m('server_errors_total', 'counter', ['code'], 'Server failures by errno/code: accept errors (EMFILE, ENFILE, ECONNABORTED...), addresses unavailable at accept, handshake failures.'),
  serverAccepted: m('server_connections_accepted_total', 'counter', [], 'Connections hardened servers handed to the application.'),
  serverRejected: m('server_connections_rejected_total', 'counter', [], 'Connections closed at accept (their address was already unavailable).'),
  serverOpen: m('server_connections_open', 'gauge', [], 'Connections open on hardened servers.'),
  serverPaused: m('server_paused', 'gauge', [], 'Hardened servers whose listener is paused for lack of descriptors (back-off).'),
  serverPauses: m('server_pauses_total', 'counter', [], 'Times a listener was paused for lack of descriptors.'),
  serverVanished: m('server_connections_vanished_total', 'counter', [], 'Connections the keepalive probe found vanished (dropped with ETIMEDOUT).'),
} as const satisfies Record<string, MetricSpec>;

/** Buckets of event_to_verdict_seconds: processing (ms) up to hold-downs and the cap (20 s). */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30];
