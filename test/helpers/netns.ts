/**
 * Network namespaces for real-kernel tests. Every test that changes the network
 * does it only inside namespaces made here, and removes them afterwards.
 * Addresses used: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, fd00::/8.
 *
 * As root (CI) namespaces are made with `ip netns add`. Without root they cannot be
 * watched from this process, so the suites skip — except under CI=true, where a skip
 * would hide a broken setup and is made a failure instead.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

let counter = 0;

/**
 * Environment for the tools we run (ip, python3): without LD_PRELOAD, so that an
 * ASan run of the addon (npm run test:asan) does not sanitize iproute2, which has
 * an overlapping strncpy of its own.
 */
const { LD_PRELOAD: _preload, ...TOOL_ENV } = process.env;

function probeNetnsSupport(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  const name = `rgprobe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe', env: TOOL_ENV });
    execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe', env: TOOL_ENV });
    return null;
  } catch (err) {
    return `ip netns add failed: ${(err as Error).message}`;
  }
}

export const netnsUnavailable: string | null = probeNetnsSupport();

/** `describe` for suites that need namespaces: runs as root, skips elsewhere, fails under CI. */
export function describeNetns(name: string, fn: () => void): void {
  if (!netnsUnavailable) {
    describe(name, fn);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs network namespaces (CI runs as root)', () => {
        throw new Error(`network-namespace tests cannot run here: ${netnsUnavailable}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${netnsUnavailable})`, fn);
  }
}

export class NetNs {
  readonly path: string;
  private removed = false;

  constructor(readonly name: string) {
    this.path = `/run/netns/${name}`;
  }

  /** Runs `ip -n NAME ARGS...` and returns stdout. `args` may be one string split on spaces. */
  ip(args: string | string[]): string {
    const list = typeof args === 'string' ? args.trim().split(/\s+/) : args;
    return execFileSync('ip', ['-n', this.name, ...list], { encoding: 'utf8', stdio: 'pipe', env: TOOL_ENV });
  }

  /** `ip -batch -` inside the namespace: many commands in one process. */
  ipBatch(lines: string[], opts: { force?: boolean } = {}): void {
    execFileSync('ip', ['-n', this.name, ...(opts.force ? ['-force'] : []), '-batch', '-'], {
      input: lines.join('\n') + '\n',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      env: TOOL_ENV,
    });
  }

  /** `ip -j -n NAME ARGS...` parsed. */
  ipJson<T = unknown>(args: string): T {
    const out = execFileSync('ip', ['-j', '-n', this.name, ...args.trim().split(/\s+/)], {
      encoding: 'utf8',
      stdio: 'pipe',
      maxBuffer: 1024 * 1024 * 1024,
      env: TOOL_ENV,
    });
    return JSON.parse(out || '[]') as T;
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, cmdArgs: string[] = [], opts: { input?: string } = {}): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...cmdArgs], {
      encoding: 'utf8',
      stdio: 'pipe',
      input: opts.input,
      env: TOOL_ENV,
    });
  }

  /**
   * No IPv6 DAD for links made after this: their addresses are usable at once, and a
   * link-local address's local route is in the table from the start (the kernel adds it
   * when DAD ends, ~1 s after the link is up): two dumps taken one after the other agree.
   */
  withoutDad(): void {
    this.exec('sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
  }

  /** Interface index of a link in this namespace. */
  ifindex(dev: string): number {
    const [link] = this.ipJson<Array<{ ifindex: number }>>(`link show dev ${dev}`);
    return link.ifindex;
  }

  destroy(): void {
    if (this.removed) return;
    this.removed = true;
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'pipe', env: TOOL_ENV });
    } catch {
      /* already gone */
    }
  }
}

/** Makes a fresh namespace with loopback up. Call `destroy()` in afterEach/afterAll. */
export function createNetns(prefix = 'rgt'): NetNs {
  const name = `${prefix}-${process.pid}-${++counter}`;
  execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe', env: TOOL_ENV });
  const ns = new NetNs(name);
  try {
    ns.ip('link set lo up');
  } catch (err) {
    ns.destroy(); // the caller never gets it to destroy
    throw err;
  }
  return ns;
}

/**
 * A veth pair: `a` in `nsA`, `b` in `nsB` (or both in nsA when nsB is omitted).
 * Both ends are brought up.
 */
export function createVeth(nsA: NetNs, a: string, nsB: NetNs | null, b: string): void {
  nsA.ip(['link', 'add', a, 'type', 'veth', 'peer', 'name', b, ...(nsB ? ['netns', nsB.name] : [])]);
  nsA.ip(`link set ${a} up`);
  (nsB ?? nsA).ip(`link set ${b} up`);
}

/** Polls `predicate` until it returns truthy or `timeoutMs` passes. */
export async function waitFor<T>(
  predicate: () => T | undefined | null | false,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = predicate();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A namespace with veth v0 (peer v1) holding 192.0.2.1/24 and 2001:db8:1::1/64: what lookup tests ask routes in. */
export function createLookupNetns(prefix: string): NetNs {
  const ns = createNetns(prefix);
  createVeth(ns, 'v0', null, 'v1');
  ns.ip('addr add 192.0.2.1/24 dev v0');
  ns.ip('addr add 2001:db8:1::1/64 dev v0 nodad');
  return ns;
}
