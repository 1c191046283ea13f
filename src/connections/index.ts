/**
 * The connections layer: verdicts acted on (ConnectionGuard), servers no
 * connection can take down (hardenServer), a ws client that reconnects once a
 * route exists again (ReconnectingWebSocket). See docs/connections.md.
 */
export { ConnectionGuard } from './connection-guard';
export type {
  ConnectionGuardCounters,
  ConnectionGuardEvents,
  ConnectionGuardOptions,
  PathJudgeLike,
  PathVerdictEvent,
  TrackOptions,
} from './connection-guard';
export { TrackedConnection } from './tracked-connection';
export type {
  AliveInfo,
  ClosedInfo,
  CloseMode,
  ConnectionAction,
  ConnectionVerdict,
  EgressInterface,
  PathVerdict,
  TrackedConnectionEvents,
  TrackedState,
} from './tracked-connection';
export { GuardClosedError, RouteGoneError } from './errors';
export { hardenServer, HardenedServer } from './hardened-server';
export type {
  ContainedInfo,
  HardenableServer,
  HardenedServerEvents,
  HardenOptions,
  RejectedInfo,
  ServerHealth,
  WebSocketServerLike,
} from './hardened-server';
export { ReconnectingWebSocket } from './reconnecting-client';
export type {
  ReconnectingCloseInfo,
  ReconnectingState,
  ReconnectingWebSocketEvents,
  ReconnectingWebSocketOptions,
  WebSocketConstructor,
} from './reconnecting-client';
export type { GuardableConnection, SocketAddresses, WebSocketLike } from './socket-path';
export type { WsClient, WsClientOptions, WsMessageData, WsSendData } from './ws-client-types';
export { silentLogger } from './logger';
export type { LogFn, Logger } from './logger';
export { GUARD_DEFAULTS, PROBE_DEFAULTS, RECONNECT_DEFAULTS, SERVER_DEFAULTS } from './defaults';
export { readTcpInfo, socketFd } from './tcp-info';
export type { TcpInfo, TcpInfoResult, TcpInfoUnavailable, TcpStateName } from './tcp-info';
export type { KeepaliveSettings } from './keepalive-probe';
export type { SocketEvidenceCounters } from './socket-evidence';
