/**
 * A Node child process inside a network namespace (`ip netns exec`), driven
 * over IPC: the parent calls commands, the child answers and may push events.
 * A socket belongs to the namespace of the process that made it, so the demo
 * (and the namespace tests) run each side of a connection in such a peer.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';

export interface PeerProcess {
  readonly pid: number;
  /** Runs a command in the child; rejects with the child's error text. */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** Events the child pushed with `emitToParent`. */
  readonly events: EventEmitter<{ event: [Record<string, unknown>] }>;
  /** Exit code or signal name, once the child ends. */
  readonly exited: Promise<number | string | null>;
  alive(): boolean;
  /** Everything the child wrote to stdout and stderr. */
  output(): string;
  /** SIGKILL (idempotent). */
  stop(): void;
}

export interface SpawnPeerOptions {
  /** Network namespace name (`ip netns list`). */
  netns: string;
  /** Command words put before node, e.g. ['prlimit', '--nofile=64:64']. */
  wrapper?: string[];
  /** Node options; default: this process's module-loader options only (see loaderOptions). */
  execArgv?: string[];
  /** Arguments after the script. */
  args?: string[];
}

/** Set in every peer's environment: a peer never starts peers of its own. */
export const PEER_ENV = 'ROUTEGUARD_PEER';

const LOADER_WITH_VALUE = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions']);
const LOADER_INLINE = /^--(require|import|loader|experimental-loader|conditions)=/;

/**
 * The options of `execArgv` that decide how modules load (`-r`, `--import`,
 * `--loader`, `--conditions`, `--enable-source-maps`), so that a peer loads the
 * same way as its parent (a TypeScript loader, say). Everything else is left
 * out: `-e CODE` or `-p CODE` would make every child run the parent's code again.
 */
export function loaderOptions(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (LOADER_WITH_VALUE.has(arg) && i + 1 < execArgv.length) out.push(arg, execArgv[++i]);
    else if (LOADER_INLINE.test(arg) || arg === '--enable-source-maps') out.push(arg);
  }
  return out;
}

type Reply = { id?: number; ok?: boolean; result?: unknown; error?: string; event?: Record<string, unknown>; ready?: true };

/** Starts `script` with node in a namespace; resolves once the child is serving. */
export function spawnPeer(script: string, options: SpawnPeerOptions): Promise<PeerProcess> {
  if (process.env[PEER_ENV]) {
    return Promise.reject(new Error('a peer process does not start peers of its own'));
  }
  const child = spawn(
    'ip',
    [
      'netns', 'exec', options.netns, ...(options.wrapper ?? []),
      process.execPath, ...(options.execArgv ?? loaderOptions(process.execArgv)), script, ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, [PEER_ENV]: '1' } },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let done = false;
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal);
    }),
  );
  const events = new EventEmitter<{ event: [Record<string, unknown>] }>();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let ready: () => void = () => undefined;
  child.on('message', (m: Reply) => {
    if (m.ready) ready();
    if (m.event) events.emit('event', m.event);
    const p = m.id !== undefined ? pending.get(m.id) : undefined;
    if (!p) return;
    pending.delete(m.id!);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error));
  });
  void exited.then((code) => {
    for (const p of pending.values()) p.reject(new Error(`peer exited (${code}) before answering:\n${out}`));
    pending.clear();
  });
  return new Promise<PeerProcess>((resolve, reject) => {
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`peer failed to start (${code}):\n${out}`)));
    ready = () =>
      resolve({
        pid: child.pid!,
        events,
        exited,
        call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
          if (done) return Promise.reject(new Error(`peer has exited:\n${out}`));
          const id = nextId++;
          return new Promise<T>((res, rej) => {
            pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
            child.send({ id, cmd, args });
          });
        },
        alive: () => !done,
        output: () => out,
        stop() {
          if (!done) child.kill('SIGKILL');
        },
      });
  });
}

export type PeerCommands = Record<string, (args: Record<string, unknown>) => unknown>;

/** In the child: answers the parent's calls with `commands`; ends when the parent goes. */
export function servePeer(commands: PeerCommands): void {
  process.on('message', async (message: { id: number; cmd: string; args: Record<string, unknown> }) => {
    try {
      const handler = commands[message.cmd];
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      const result = await handler(message.args ?? {});
      process.send?.({ id: message.id, ok: true, result });
    } catch (err) {
      process.send?.({ id: message.id, ok: false, error: (err as Error)?.stack ?? String(err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}

/** In the child: pushes an event to the parent. */
export function emitToParent(event: Record<string, unknown>): void {
  process.send?.({ event });
}
