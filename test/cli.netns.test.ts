/**
 * The CLI as a user runs it (bin/routeguard.js), against a private namespace.
 */
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Address, Link, Neighbour, Route, Rule } from '../src/netlink/types';
import { routeProtocolName } from '../src/netlink/flags';
import { kernelFacts, routeFacts } from './helpers/ip-facts';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from './helpers/netns';
import { NetlinkMonitor } from '../src/monitor';

const bin = path.resolve(__dirname, '..', 'bin', 'routeguard.js');
const run = promisify(execFile);

/** Runs the CLI expecting it to fail: its exit status and what it wrote to stderr. */
function runFailing(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync(process.execPath, [bin, ...args], { stdio: 'pipe', encoding: 'utf8', timeout: 20_000 });
  } catch (e) {
    const { status, stderr } = e as { status: number | null; stderr: string };
    return { status, stderr };
  }
  return { status: 0, stderr: '' };
}

describeNetns('routeguard CLI', () => {
  let ns: NetNs;

  beforeEach(() => {
    ns = createNetns('rgcli');
    ns.withoutDad(); // the tests compare dumps taken one after the other
    createVeth(ns, 'v0', null, 'v1');
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('addr add 2001:db8:1::1/64 dev v0 nodad');
    ns.ip('route add 203.0.113.0/24 via 192.0.2.2 table 100 proto bgp metric 20');
    ns.ip('rule add fwmark 0xca6c table 51820 pref 100');
    ns.ip('-6 rule add from 2001:db8::/32 prohibit pref 200');
    ns.ip('neigh add 192.0.2.2 lladdr 02:00:5e:00:53:02 dev v0');
  });

  /** CLI processes of a test: one still running after it (a failed expectation) is killed before its namespace goes. */
  const children: ChildProcessWithoutNullStreams[] = [];
  const cli = (args: string[]): ChildProcessWithoutNullStreams => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'pipe' });
    children.push(child);
    return child;
  };

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ns.destroy();
  });

  it('dump --json prints { links, addresses, routes, nexthops, rules, neighbours } equal to ip -j', async () => {
    const { stdout } = await run(process.execPath, [bin, 'dump', '--json', '--netns', ns.path]);
    const dump = JSON.parse(stdout) as {
      links: Link[]; addresses: Address[]; routes: Route[]; nexthops: unknown[]; rules: Rule[]; neighbours: Neighbour[];
    };
    expect(dump.links.map((l) => l.name).sort()).toEqual(['lo', 'v0', 'v1']);
    const ipAddrs = ns.ipJson<Array<{ addr_info: Array<{ local: string }> }>>('addr show').flatMap((l) => l.addr_info.map((a) => a.local));
    expect(dump.addresses.map((a) => a.local ?? a.address).sort()).toEqual(ipAddrs.sort());
    const ipRoutes = [
      ...ns.ipJson<unknown[]>('-4 route show table all'),
      ...ns.ipJson<unknown[]>('-6 route show table all'),
    ];
    expect(dump.routes).toHaveLength(ipRoutes.length);
    const bgp = dump.routes.find((r) => r.table === 100)!;
    expect(bgp).toMatchObject({ destination: '203.0.113.0', destinationLength: 24, gateway: '192.0.2.2', metric: 20 });
    expect(routeProtocolName(bgp.protocol)).toBe('bgp');
    expect(dump.nexthops).toEqual([]);
    const ipRules = [...ns.ipJson<Array<{ priority: number }>>('-4 rule show'), ...ns.ipJson<Array<{ priority: number }>>('-6 rule show')];
    expect(dump.rules.map((r) => r.priority)).toEqual(ipRules.map((r) => r.priority));
    expect(dump.rules.find((r) => r.table === 51820)).toMatchObject({ family: 4, fwmark: 0xca6c, action: 'to-table' });
    expect(dump.neighbours.find((n) => n.address === '192.0.2.2')).toMatchObject({
      family: 4, stateName: 'permanent', linkAddress: '02:00:5e:00:53:02',
    });
  });

  it('dump --json writes varied routes as JSON.stringify of each dumped Route, and as ip -j reports them', async () => {
    ns.ip('route add 198.51.100.0/25 via 192.0.2.2 metric 100 mtu 1400');
    ns.ip('route add 198.51.100.128/26 dev v0 src 192.0.2.1 scope link');
    ns.ip('route add 203.0.113.128/25 nexthop via 192.0.2.2 weight 2 nexthop via 192.0.2.3');
    ns.ip('route add blackhole 198.51.100.192/27 table 200');
    ns.ip('route add unreachable 198.51.100.224/28');
    ns.ip('route add prohibit 198.51.100.240/29 table 200');
    ns.ip('route add throw 203.0.113.0/25');
    ns.ip('nexthop add id 7 via 192.0.2.4 dev v0');
    ns.ip('route add 203.0.113.64/26 nhid 7 table 300');
    ns.ip('-6 route add 2001:db8:2::/64 via 2001:db8:1::2 dev v0 expires 300');
    ns.ip('-6 route add 2001:db8:3::/64 nexthop via 2001:db8:1::2 dev v0 nexthop via 2001:db8:1::3 dev v0');
    ns.ip('-6 route add unreachable 2001:db8:4::/48 metric 7');
    ns.ip('-6 route add blackhole ::ffff:192.0.2.0/120');
    const { stdout } = await run(process.execPath, [bin, 'dump', '--json', '--netns', ns.path], { maxBuffer: 1 << 26 });
    // The routes as the per-route path wrote them: JSON.stringify of each Route of a 'stream' dump.
    const texts: string[] = [];
    const monitor = new NetlinkMonitor({ netns: ns.path, routes: 'stream', confirmDelayMs: false, onDumpedRoute: (r) => texts.push(JSON.stringify(r)) });
    try {
      await monitor.start();
    } finally {
      monitor.close();
    }
    const start = stdout.indexOf('"routes":[') + '"routes":['.length;
    // The seconds left of the route that expires tick between the two dumps.
    const ticking = (text: string) => text.replace(/"expires":\d+/g, '"expires":N');
    expect(ticking(stdout.slice(start, stdout.indexOf('],"nexthops":', start)))).toBe(ticking(texts.join(',')));
    const dump = JSON.parse(stdout) as { routes: Route[] };
    for (const type of ['unicast', 'local', 'blackhole', 'unreachable', 'prohibit', 'throw']) {
      expect(dump.routes.some((r) => r.type === type), type).toBe(true);
    }
    expect(dump.routes.filter((r) => r.multipath !== null).map((r) => r.family).sort()).toEqual([4, 6]);
    expect(dump.routes.find((r) => r.destination === '2001:db8:2::')?.expires).toBeGreaterThan(0);
    expect(dump.routes.find((r) => r.destination === '198.51.100.0')).toMatchObject({ metric: 100, mtu: 1400 });
    expect(dump.routes.find((r) => r.destination === '::ffff:192.0.2.0')).toMatchObject({ family: 6, type: 'blackhole' });
    expect(routeFacts(dump.routes)).toEqual(kernelFacts(ns).routes);
  });

  it('dump --json into a reader that stops early (| head) ends quietly with status 0', async () => {
    // 20k routes: far more output than a pipe holds, so the write after the reader left fails (EPIPE).
    ns.ipBatch(Array.from({ length: 20_000 }, (_, i) => `route add blackhole 10.9.${i >> 8}.${i & 0xff}/32`));
    const child = cli(['dump', '--json', '--netns', ns.path]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Read the first chunk, then close the pipe, as head does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('dump without --json prints ip-like text', async () => {
    const { stdout } = await run(process.execPath, [bin, 'dump', '--netns', ns.path]);
    expect(stdout).toContain('# routes');
    expect(stdout).toMatch(/203\.0\.113\.0\/24 via 192\.0\.2\.2 dev v0 table 100 proto bgp metric 20/);
    expect(stdout).toMatch(/v0 inet 192\.0\.2\.1\/24 scope global/);
    expect(stdout).toMatch(/^100: from all fwmark 0xca6c lookup 51820$/m);
    expect(stdout).toMatch(/# rules \(inet6\)\n0: from all lookup local\n200: from 2001:db8::\/32 prohibit\n/);
    expect(stdout).toMatch(/^192\.0\.2\.2 dev v0 lladdr 02:00:5e:00:53:02 PERMANENT$/m);
  });

  it('dump prints rules exactly as ip rule does, and neighbours as ip neigh does', async () => {
    for (const rule of [
      'rule add not fwmark 0x1/0xff table 51820 pref 10', 'rule add table main suppress_prefixlength 0 pref 11',
      'rule add from 198.51.100.0/24 to 203.0.113.7 tos 0x10 prohibit pref 12', 'rule add iif nosuch oif v1 blackhole pref 13',
      'rule add uidrange 1000-2000 ipproto tcp sport 1000-2000 dport 443 lookup 7 pref 14', 'rule add goto 99 pref 15',
      'rule add l3mdev pref 16', 'rule add nop pref 17', 'rule add suppress_ifgroup 5 lookup 1000 pref 18',
      '-6 rule add to fd00::/8 unreachable pref 19',
    ]) {
      ns.ip(rule);
    }
    ns.ip('-6 neigh add 2001:db8:1::2 lladdr 02:00:5e:00:53:03 dev v0 nud stale router');
    const { stdout } = await run(process.execPath, [bin, 'dump', '--netns', ns.path]);
    const section = (title: string) => stdout.split(`# ${title}\n`)[1].split('\n\n')[0].trim().split('\n');
    const ipLines = (args: string) => ns.ip(args).trim().split('\n').map((l) => l.replace(/\t/g, ' ').trim());
    expect(section('rules')).toEqual(ipLines('-4 rule show'));
    expect(section('rules (inet6)')).toEqual(ipLines('-6 rule show'));
    expect(section('neighbours').sort()).toEqual(ipLines('neigh show').filter((l) => !l.endsWith('NOARP')).sort());
  });

  it('monitor --json streams NDJSON events with timestamps until interrupted', async () => {
    const child = cli(['monitor', '--json', '--netns', ns.path]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await waitFor(() => out.includes('"synced"'), 10_000, 'synced line');
    ns.ip('addr add 198.51.100.1/24 dev v1');
    ns.ip('rule add to 198.51.100.0/24 blackhole pref 300');
    ns.ip('neigh add 198.51.100.9 lladdr 02:00:5e:00:53:09 dev v1 nud stale');
    await waitFor(() => out.includes('198.51.100.9'), 5000, 'neighbour event line');
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    const added = lines.find((l) => l.type === 'address' && l.address.local === '198.51.100.1');
    expect(added).toMatchObject({ action: 'added', address: { family: 4, prefixLength: 24 } });
    expect(new Date(added.time).toISOString()).toBe(added.time);
    expect(lines.find((l) => l.type === 'rule')).toMatchObject({ action: 'added', rule: { action: 'blackhole', priority: 300 } });
    expect(lines.find((l) => l.type === 'neighbour')).toMatchObject({ action: 'added', neighbour: { stateName: 'stale' } });
  });

  it('fails with a clear message and exit code 1 for a bad namespace, in dump and in monitor', () => {
    for (const command of ['dump', 'monitor']) {
      const failure = runFailing([command, '--netns', '/run/netns/routeguard-nope']);
      expect(failure.status).toBe(1);
      expect(failure.stderr).toMatch(new RegExp(`^routeguard ${command}: .*routeguard-nope.*ERR_BAD_NETNS`, 's'));
    }
  });

  it('names a file it cannot write or read, with exit code 1 and no stack trace', () => {
    const record = runFailing(['record', '/routeguard-no-such-dir/rec.jsonl', '--duration', '100']);
    expect(record.status).toBe(1);
    expect(record.stderr).toBe("routeguard record: ENOENT: no such file or directory, open '/routeguard-no-such-dir/rec.jsonl'\n");
    const replay = runFailing(['replay', '/routeguard-no-such-dir/rec.jsonl']);
    expect(replay.status).toBe(1);
    expect(replay.stderr).toBe("routeguard replay: ENOENT: no such file or directory, open '/routeguard-no-such-dir/rec.jsonl'\n");
  });

  it('rejects unknown options with usage and exit code 2', () => {
    const failure = runFailing(['dump', '--bogus']);
    expect(failure.status).toBe(2);
    expect(failure.stderr).toContain('usage: routeguard dump');
    // Arguments a command does not take are refused, not ignored.
    const extra = runFailing(['dump', 'junk']);
    expect(extra.status).toBe(2);
    expect(extra.stderr).toMatch(/^routeguard dump: unexpected argument "junk"/);
    const mark = runFailing(['path', '--to', '198.51.100.7', '--mark', '0x10']);
    expect(mark.status).toBe(2);
    expect(mark.stderr).toMatch(/--mark must be an integer >= 0 in decimal digits, got "0x10"/);
  });
});
