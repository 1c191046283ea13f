/**
 * The demo's two processes, each started in its own namespace by `routeguard
 * demo`: `peer server` runs a hardened ws echo server; `peer client` runs
 * guarded, reconnecting ws clients on a NetlinkMonitor and reports what the
 * guard sees to the parent, which prints the timeline.
 */
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionGuard } from '../../connections/connection-guard';
import { hardenServer } from '../../connections/hardened-server';
import { ReconnectingWebSocket } from '../../connections/reconnecting-client';
import { realClock } from '../../judge/clock';
import { NetlinkMonitor } from '../../monitor';
import { echoOver } from './echo';
import { emitToParent, servePeer } from './peer-process';

function server(): void {
  servePeer({
    async listen(args) {
      const wss = new WebSocketServer({ port: args.port as number, host: '::' });
      hardenServer(wss);
      wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
      await once(wss, 'listening');
      return true;
    },
  });
}

function client(): void {
  const clients: ReconnectingWebSocket[] = [];
  let guard: ConnectionGuard | null = null;
  servePeer({
    async connect(args) {
      const monitor = new NetlinkMonitor();
      await monitor.start();
      guard = new ConnectionGuard({ source: monitor });
      guard.on('verdict', (v) => {
        const info = v.info as { reason?: string; deadline?: number; suspectForMs?: number };
        emitToParent({
          kind: 'verdict',
          type: v.type,
          reason: info.reason ?? null,
          path: `${v.path.local} -> ${v.path.remote}`,
          connections: v.connections,
          holdDownMs: info.deadline !== undefined ? Math.round(info.deadline - realClock.now()) : null,
          suspectForMs: info.suspectForMs ?? null,
        });
      });
      guard.on('closed', (conn, info) => {
        if (info.byGuard) emitToParent({ kind: 'closed', path: `${conn.path?.local} -> ${conn.path?.remote}`, reason: info.error?.reason ?? null });
      });
      for (const url of args.urls as string[]) {
        const c = new ReconnectingWebSocket(url, { guard, initialDelayMs: 200, maxDelayMs: 2000, routeCheckMs: 250 });
        c.on('waiting-for-route', (w) => emitToParent({ kind: 'waiting', url, remote: w.remote }));
        c.on('route-available', (r) => emitToParent({ kind: 'route', url, waitedMs: r.waitedMs }));
        c.on('open', (_ws, tracked) => emitToParent({ kind: 'open', url, local: tracked?.path?.local ?? null }));
        clients.push(c);
      }
      await Promise.all(clients.map((c) => (c.state === 'open' ? null : once(c, 'open'))));
      return guard.counters();
    },

    /** Sends on every open client; counts the echoes. */
    async ping() {
      const open = clients.filter((c) => c.state === 'open' && c.socket);
      const ok = await Promise.all(open.map((c, i) => echoOver(c.socket as WebSocket, `ping-${i}-${Date.now()}`, 2000)));
      return { clients: clients.length, open: open.length, echoed: ok.filter(Boolean).length };
    },

    states() {
      return clients.map((c) => c.state);
    },
  });
}

if (process.argv[2] === 'server') server();
else if (process.argv[2] === 'client') client();
else {
  process.stderr.write('usage: peer server|client (started by `routeguard demo`)\n');
  process.exitCode = 2;
}
