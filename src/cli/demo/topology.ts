/**
 * The demo's network: two namespaces joined by a veth pair, documentation
 * addresses only (192.0.2.0/24, 2001:db8::/32).
 *
 *   rgdemo-PID-srv  dsrv0  192.0.2.1/24  2001:db8::1/64
 *   rgdemo-PID-cli  dcli0  192.0.2.2/24  2001:db8::2/64
 */
import { execFileSync } from 'node:child_process';

export interface DemoSide {
  ns: string;
  dev: string;
  v4: string;
  v6: string;
}

export class DemoTopology {
  readonly server: DemoSide;
  readonly client: DemoSide;
  private removed = false;

  private constructor(prefix: string) {
    this.server = { ns: `${prefix}-srv`, dev: 'dsrv0', v4: '192.0.2.1', v6: '2001:db8::1' };
    this.client = { ns: `${prefix}-cli`, dev: 'dcli0', v4: '192.0.2.2', v6: '2001:db8::2' };
  }

  /** Creates both namespaces and the link; removes what it made if a step fails. */
  static create(prefix = `rgdemo-${process.pid}`): DemoTopology {
    const t = new DemoTopology(prefix);
    try {
      for (const side of [t.server, t.client]) {
        execFileSync('ip', ['netns', 'add', side.ns], { stdio: 'pipe' });
        t.ip(side, 'link set lo up');
      }
      t.ip(t.client, `link add ${t.client.dev} type veth peer name ${t.server.dev} netns ${t.server.ns}`);
      for (const side of [t.server, t.client]) {
        t.ip(side, `addr add ${side.v4}/24 dev ${side.dev}`);
        t.ip(side, `-6 addr add ${side.v6}/64 dev ${side.dev} nodad`);
        t.ip(side, `link set ${side.dev} up`);
      }
    } catch (err) {
      t.destroy();
      throw err;
    }
    return t;
  }

  /** `ip -n NS ARGS` (ARGS split on spaces). */
  ip(side: DemoSide, args: string): string {
    return execFileSync('ip', ['-n', side.ns, ...args.split(' ')], { encoding: 'utf8', stdio: 'pipe' });
  }

  /** True while an IPv6 address of the side is still tentative (DAD running). */
  tentative(side: DemoSide): boolean {
    return this.ip(side, `-6 addr show dev ${side.dev}`).includes('tentative');
  }

  /** Deletes both namespaces (and with them the link). Idempotent, never throws. */
  destroy(): void {
    if (this.removed) return;
    this.removed = true;
    for (const side of [this.server, this.client]) {
      try {
        execFileSync('ip', ['netns', 'del', side.ns], { stdio: 'pipe' });
      } catch {
        /* not created, or already gone */
      }
    }
  }
}
