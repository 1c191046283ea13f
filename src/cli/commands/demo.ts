/**
 * `routeguard demo` (root): two namespaces, a hardened ws server in one,
 * guarded reconnecting ws clients in the other. First a NetworkManager-like
 * reapply on the client (IPv4 back after 50 ms, IPv6 after 1.5 s plus DAD):
 * nothing closes. Then a real loss a reconnect survives (a new lease: the
 * addresses replaced by others): the connections close just after the replacement
 * settle and the clients reconnect from the new addresses. Prints the timeline;
 * removes the namespaces on exit and on Ctrl-C.
 */
import * as path from 'node:path';
import { PermissionDeniedError, RouteguardError } from '../../errors';
import { DEFAULT_HOLD_DOWNS } from '../../judge/hold-downs';
import { PEER_ENV, spawnPeer, type PeerProcess } from '../demo/peer-process';
import { DemoTopology } from '../demo/topology';
import type { CliIo } from '../io';
import { parseCommandArgs } from '../options';

const HELP = `usage: routeguard demo

Needs root. Builds two network namespaces (rgdemo-PID-srv, rgdemo-PID-cli)
joined by a veth pair, runs a ws server in one and 4 guarded clients in the
other, then shows NetworkManager-like churn (nothing closes) and a new lease
(addresses replaced: connections close just after the hold-down), and the clients
reconnecting from the new addresses.
Takes about 15 s; the namespaces are removed at the end and on Ctrl-C.
`;

const PORT = 8080;
const HOLD_DOWN_MS = DEFAULT_HOLD_DOWNS['local-address-removed'];
/** A loss a reconnect survives is confirmed at its hold-down; replacement settles in this. */
const REPLACED_MS = DEFAULT_HOLD_DOWNS['local-address-replaced'];
/** The client's addresses after the new lease. */
const NEW_LEASE = { v4: '192.0.2.3', v6: '2001:db8::3' };

type PeerEvent = Record<string, unknown> & { kind: string };

class Aborted extends Error {}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { help } = parseCommandArgs(argv, {}, HELP);
  if (help) {
    io.stdout.write(help);
    return 0;
  }
  if (process.env[PEER_ENV]) {
    throw new RouteguardError('ERR_DEMO', 'routeguard demo cannot run inside one of its own peer processes');
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PermissionDeniedError('routeguard demo creates network namespaces: run it as root');
  }
  const topology = DemoTopology.create();
  const peers: PeerProcess[] = [];
  const stopAll = () => {
    for (const p of peers) p.stop();
    topology.destroy();
  };
  io.signal.addEventListener('abort', stopAll, { once: true });
  try {
    return await new Demo(topology, peers, io).play();
  } catch (err) {
    if (io.signal.aborted) {
      io.stdout.write('interrupted: namespaces removed\n');
      return 130;
    }
    throw err;
  } finally {
    io.signal.removeEventListener('abort', stopAll);
    stopAll();
  }
}

class Demo {
  /** Timeline origin: when the clients are connected. */
  private start = Date.now();
  private readonly closes: Array<{ path: string; reason: string; time: number }> = [];
  private opens = 0;
  private client!: PeerProcess;

  constructor(
    private readonly net: DemoTopology,
    private readonly peers: PeerProcess[],
    private readonly io: CliIo,
  ) {}

  private print(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  private at(text: string, time = Date.now()): void {
    this.print(`  +${((time - this.start) / 1000).toFixed(2).padStart(5)}s  ${text}`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.io.signal.aborted) return reject(new Aborted());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new Aborted());
      };
      const timer = setTimeout(() => {
        this.io.signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      this.io.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new RouteguardError('ERR_DEMO', `demo: timed out waiting for ${what}`);
      await this.sleep(25);
    }
  }

  private onEvent(e: PeerEvent): void {
    switch (e.kind) {
      case 'verdict':
        if (e.type === 'suspect') {
          this.at(`suspect    ${e.path}  ${e.reason}, ${e.connections} connections; hold-down ends in ${((e.holdDownMs as number) / 1000).toFixed(2)} s`);
        } else if (e.type === 'recovered') {
          this.at(`recovered  ${e.path}  after ${Math.round(e.suspectForMs as number)} ms: churn ridden out`);
        } else if (e.type === 'gone') {
          this.at(`GONE       ${e.path}  ${e.reason}: closing ${e.connections} connections`);
        } else {
          this.at(`changed    ${e.path}  the kernel would route it differently now`);
        }
        break;
      case 'closed':
        this.closes.push({ path: e.path as string, reason: e.reason as string, time: Date.now() });
        break;
      case 'waiting':
        this.at(`client     ${e.url} waits for a route to ${e.remote}`);
        break;
      case 'route':
        this.at(`client     route to ${e.url} exists again`);
        break;
      case 'open':
        this.opens++;
        if (this.opens > 4) this.at(`client     reconnected to ${e.url} from ${e.local}`);
        break;
    }
  }

  private async ping(): Promise<{ clients: number; open: number; echoed: number }> {
    return this.client.call('ping');
  }

  async play(): Promise<number> {
    const { server: s, client: c } = this.net;
    const peerScript = path.join(__dirname, '..', 'demo', `peer${path.extname(__filename)}`);
    this.print('routeguard demo: a ws server and 4 guarded clients in two network namespaces');
    this.print(`  server  ${s.ns}  ${s.dev}  ${s.v4}/24  ${s.v6}/64`);
    this.print(`  client  ${c.ns}  ${c.dev}  ${c.v4}/24  ${c.v6}/64`);
    this.print(`  hold-down for a removed address: ${(HOLD_DOWN_MS / 1000).toFixed(2)} s\n`);

    const server = await spawnPeer(peerScript, { netns: s.ns, args: ['server'] });
    this.peers.push(server);
    this.client = await spawnPeer(peerScript, { netns: c.ns, args: ['client'] });
    this.peers.push(this.client);
    this.client.events.on('event', (e) => this.onEvent(e as PeerEvent));
    await server.call('listen', { port: PORT });
    const urls = [`ws://${s.v4}:${PORT}`, `ws://${s.v4}:${PORT}`, `ws://[${s.v6}]:${PORT}`, `ws://[${s.v6}]:${PORT}`];
    const counters = await this.client.call<{ tracked: number; paths: number }>('connect', { urls });
    this.start = Date.now();
    this.at(`${counters.tracked} clients connected (2 over IPv4, 2 over IPv6): ${counters.paths} paths watched`);

    this.print('\n1) NetworkManager-like reapply on the client: nothing should close');
    const churn = Date.now();
    this.net.ip(c, `addr del ${c.v4}/24 dev ${c.dev}`);
    this.net.ip(c, `-6 addr del ${c.v6}/64 dev ${c.dev}`);
    this.at('IPv4 and IPv6 addresses deleted (routes with them)');
    await this.sleep(50 - (Date.now() - churn));
    this.net.ip(c, `addr add ${c.v4}/24 dev ${c.dev}`);
    this.at('IPv4 address back');
    await this.sleep(1500 - (Date.now() - churn));
    this.net.ip(c, `-6 addr add ${c.v6}/64 dev ${c.dev}`);
    this.at('IPv6 address back, tentative while DAD runs');
    await this.until(() => !this.net.tentative(c), 5000, 'DAD');
    this.at('IPv6 address usable');
    await this.sleep(churn + HOLD_DOWN_MS + 500 - Date.now());
    const churnCloses = this.closes.length;
    const afterChurn = await this.ping();
    this.at(`churn over: ${churnCloses} connections closed; ${afterChurn.echoed}/${afterChurn.clients} clients echo`);

    this.print('\n2) A new lease: the client\'s addresses are replaced by others (a reconnect would work at once)');
    const loss = Date.now();
    this.net.ip(c, `addr del ${c.v4}/24 dev ${c.dev}`);
    this.net.ip(c, `-6 addr del ${c.v6}/64 dev ${c.dev}`);
    this.net.ip(c, `addr add ${NEW_LEASE.v4}/24 dev ${c.dev}`);
    this.net.ip(c, `-6 addr add ${NEW_LEASE.v6}/64 dev ${c.dev} nodad`);
    this.at(`addresses replaced by ${NEW_LEASE.v4} and ${NEW_LEASE.v6}; the old ones are not coming back`);
    await this.until(() => this.closes.length >= churnCloses + 4, HOLD_DOWN_MS + 5000, 'the connections to close');
    const outage = this.closes.slice(churnCloses);
    const last = Math.max(...outage.map((x) => x.time));
    const lossToClose = (last - loss) / 1000;
    this.at(`${outage.length} connections closed with RouteGoneError (${outage[0].reason}), ${lossToClose.toFixed(2)} s after the loss`, last);

    this.print('\n3) The clients reconnect from the new addresses');
    const back = Date.now();
    await this.until(() => this.opens >= 8, 15_000, 'the clients to reconnect');
    const reconnected = await this.ping();
    this.at(`${reconnected.open}/${reconnected.clients} clients reconnected in ${((Date.now() - back) / 1000).toFixed(2)} s; ${reconnected.echoed} echo`);

    const ok = churnCloses === 0 && afterChurn.echoed === 4 && outage.length === 4 && reconnected.echoed === 4;
    this.print(
      `\nchurn: ${churnCloses} closed. outage: ${outage.length} closed ${lossToClose.toFixed(2)} s after the loss ` +
        `(replacement settle ${(REPLACED_MS / 1000).toFixed(2)} s). ${ok ? 'As expected.' : 'NOT as expected.'}`,
    );
    return ok ? 0 : 1;
  }
}
