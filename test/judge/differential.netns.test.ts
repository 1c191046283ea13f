/**
 * Seeded, randomized differential test: the JUDGE's verdicts against an oracle computed
 * from the kernel after the judge must have settled.
 *
 * Namespace H is the host: three veth uplinks u0..u2 whose peers n0..n2 sit in namespace N
 * (the network: gateways 192.0.2.(16i+1)/28 and 2001:db8:i::1/64; taking n_i down cuts
 * u_i's carrier). H has IPv4/IPv6 addresses on the uplinks, a loopback-owned source, an
 * AnyIP prefix, default and specific routes, table 100 selected by `fwmark 0x1`, and
 * gateway neighbours. A NetlinkMonitor (routes: 'mirror' or 'events' by seed) feeds a
 * PathJudge with short hold-downs (100-300 ms, by seed) and maxSuspectMs 800, watching
 * ~23 paths (locals x peers, some with mark 1). Random batches of churn and loss are
 * applied with `ip -force -batch` (refused operations are skipped). After each batch the
 * test waits past the cap plus the hold-downs, then computes for every path from the
 * kernel (`ip -j route get`, `ip -j addr/link/neigh`) whether it is fine or broken:
 * - local address on some interface, not dadfailed (tentative counts as back: rule 2); a
 *   source with no address object is accepted when `ip route get LOCAL` answers local
 *   (check step 1: AnyIP);
 * - `ip route get REMOTE from LOCAL [mark M]` succeeds with a routable type, through a
 *   link with UP and LOWER_UP (step 2), whose next hop (gateway or on-link peer) is not
 *   FAILED (step 3);
 * - source-mismatch (step 4), which needs history: the egress at the path's last fine
 *   check (the judge's memory) moved, the source belonged to it, the new egress does not
 *   hold it and a new connection (`ip route get REMOTE [mark M]`) would use another
 *   prefsrc. Loopback-owned and AnyIP sources never belonged to an egress; a path already
 *   leaving through a foreign interface when first watched is never caught.
 * Past the cap every broken path is 'gone' whatever its reason or alternative (rule 5:
 * patience ends at the cap), and a fine one 'viable'. Gone is final: a gone path stays
 * unwatched while broken and is watched again (expected viable at watch time) once fine.
 *
 * RG_JUDGE_DIFF_SEEDS=1,2,3 picks seeds, RG_JUDGE_DIFF_BATCHES the batches per seed,
 * RG_JUDGE_DIFF_REPLAY=file.json replays `{ "seed", "batches": [[op, ...], ...] }` (ops as
 * printed: "N ..." runs in the network namespace, "-6 ..." alone in H, others in H).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { PathJudge } from '../../src/judge/path-judge';
import type { EvidenceEntry, HoldDowns, PathSpec, PathWatch, VerdictReason } from '../../src/judge/types';
import { NetlinkMonitor } from '../../src/monitor';
import { applyIpOps, stderrOf } from '../helpers/ip-ops';
import { createNetns, describeNetns, type NetNs } from '../helpers/netns';
import { mulberry32, Rand } from '../helpers/seeded-random.mjs';

// ---- addressing ----
const UPLINKS = [0, 1, 2] as const;
const gw4 = (i: number) => `192.0.2.${16 * i + 1}`;
const loc4 = (i: number, h: number) => `192.0.2.${16 * i + h}`;
const v6 = (i: number, h: number) => (i === 0 ? `2001:db8::${h}` : `2001:db8:${i}::${h}`);
const gw6 = (i: number) => v6(i, 1);
const MAC = (i: number) => `02:00:5e:00:53:1${i}`;
const PEER4 = ['198.51.100.7', '203.0.113.7'];
const PEER6 = ['2001:db8:ff::7', 'fd00:ff::7'];
const LO_SOURCE = '203.0.113.200';
const ANYIP_SOURCE = '203.0.113.130';

function watchedPaths(): PathSpec[] {
  const out: PathSpec[] = [];
  for (const local of [loc4(0, 2), loc4(0, 3), loc4(1, 2), loc4(2, 2), LO_SOURCE, ANYIP_SOURCE]) {
    for (const remote of PEER4) out.push({ local, remote });
  }
  for (const local of [v6(0, 2), v6(0, 3), v6(1, 2), v6(2, 2)]) for (const remote of PEER6) out.push({ local, remote });
  out.push({ local: loc4(0, 2), remote: PEER4[0], mark: 1 });
  out.push({ local: loc4(1, 2), remote: PEER4[0], mark: 1 });
  out.push({ local: v6(1, 2), remote: PEER6[0], mark: 1 });
  return out;
}

const keyOf = (p: PathSpec) => `${p.local} -> ${p.remote}${p.mark ? ` mark ${p.mark}` : ''}`;

function networkSetup(): string[] {
  const out: string[] = [];
  for (const i of UPLINKS) out.push(`addr add ${gw4(i)}/28 dev n${i}`, `addr add ${gw6(i)}/64 dev n${i} nodad`, `link set n${i} up`);
  return out;
}

function hostSetup(): string[] {
  const out: string[] = [];
  for (const i of UPLINKS) {
    out.push(`addr add ${loc4(i, 2)}/28 dev u${i}`, `addr add ${v6(i, 2)}/64 dev u${i} nodad`);
    out.push(`neigh replace ${gw4(i)} lladdr ${MAC(i)} dev u${i} nud reachable`, `neigh replace ${gw6(i)} lladdr ${MAC(i)} dev u${i} nud reachable`);
  }
  out.push(`addr add ${loc4(0, 3)}/28 dev u0`, `addr add ${v6(0, 3)}/64 dev u0 nodad`);
  out.push(`addr add ${LO_SOURCE}/32 dev lo`, 'route add local 203.0.113.128/26 dev lo');
  out.push(`route add default via ${gw4(0)} dev u0 metric 100`, `route add default via ${gw4(1)} dev u1 metric 200`);
  out.push(`route add 203.0.113.0/25 via ${gw4(2)} dev u2`);
  out.push(`route add default via ${gw6(0)} dev u0 metric 100`, `route add default via ${gw6(1)} dev u1 metric 200`);
  out.push(`route add fd00:ff::/48 via ${gw6(2)} dev u2`);
  out.push(`route add default via ${gw4(1)} dev u1 table 100`, `route add default via ${gw6(1)} dev u1 table 100`);
  out.push('rule add fwmark 0x1 table 100 pref 1000', '-6 rule add fwmark 0x1 table 100 pref 1000');
  return out;
}

/** Random churn and loss, as `ip` lines ("N ..." in the network namespace). */
class OpGenerator {
  constructor(private readonly r: Rand) {}

  private addr(): string[] {
    const r = this.r;
    const i = r.pick(UPLINKS);
    const six = r.chance(0.45);
    const h = r.pick([2, 2, 3]);
    const a = six ? `${v6(i, h)}/64` : `${loc4(i, h)}/28`;
    const nodad = six && r.chance(0.85) ? ' nodad' : '';
    return r.weighted([
      [4, () => [`addr del ${a} dev u${i}`]],
      [4, () => [`addr add ${a} dev u${i}${nodad}`]],
      [1, () => {
        // The address moves to another uplink (a prefix of another network on it).
        const j = r.pick(UPLINKS.filter((x) => x !== i));
        return [`addr del ${a} dev u${i}`, `addr add ${a} dev u${j}${nodad}`];
      }],
      // A new lease: another address, the old one not back (replacement).
      [2, () => [`addr del ${a} dev u${i}`, `addr add ${six ? `${v6(i, 5)}/64` : `${loc4(i, 5)}/28`} dev u${i}${nodad}`]],
      [0.5, () => [`addr flush dev u${i}`]],
      [0.7, () => [r.chance(0.5) ? `addr del ${LO_SOURCE}/32 dev lo` : `addr add ${LO_SOURCE}/32 dev lo`]],
      [0.7, () => [r.chance(0.5) ? 'route del local 203.0.113.128/26 dev lo' : 'route add local 203.0.113.128/26 dev lo']],
    ] as const)();
  }

  private link(): string[] {
    const r = this.r;
    const i = r.pick(UPLINKS);
    return r.weighted([
      [3, () => [`link set u${i} ${r.chance(0.5) ? 'down' : 'up'}`]],
      [3, () => [`N link set n${i} ${r.chance(0.5) ? 'down' : 'up'}`]],
      [1, () => [`link del u${i}`]],
      [1.2, () => {
        const out = [`link add u${i} type veth peer name n${i} netns NETNS_N`, `link set u${i} up`];
        out.push(...networkSetup().filter((l) => l.endsWith(`n${i}`) || l.includes(`dev n${i} `)).map((l) => `N ${l}`));
        if (r.chance(0.7)) out.push(`addr add ${loc4(i, 2)}/28 dev u${i}`, `addr add ${v6(i, 2)}/64 dev u${i} nodad`);
        if (r.chance(0.5)) out.push(`route replace default via ${gw4(i)} dev u${i} metric ${100 * (i + 1)}`, `route replace default via ${gw6(i)} dev u${i} metric ${100 * (i + 1)}`);
        return out;
      }],
    ] as const)();
  }

  private route(): string[] {
    const r = this.r;
    const i = r.pick(UPLINKS);
    const six = r.chance(0.45);
    const gw = six ? gw6(i) : gw4(i);
    const metric = r.pick([50, 100, 200, 300]);
    return r.weighted([
      [3, () => [`route replace default via ${gw} dev u${i} metric ${metric}`]],
      [2, () => [`route del default via ${gw} dev u${i}`]],
      [1, () => [`route add default via ${gw} dev u${i} metric ${metric}`]],
      [3, () => {
        const dst = six ? r.pick(['2001:db8:ff::/48', 'fd00:ff::/48']) : r.pick(['198.51.100.0/24', '203.0.113.0/25']);
        return [r.chance(0.6) ? `route replace ${dst} via ${gw} dev u${i}` : `route del ${dst}`];
      }],
      [1, () => {
        const dst = six ? 'fd00:ff::/64' : '198.51.100.0/25';
        return [r.chance(0.5) ? `route replace ${r.pick(['unreachable', 'prohibit', 'blackhole'])} ${dst}` : `route del ${dst}`];
      }],
      [1.5, () => [r.chance(0.6) ? `route replace default via ${gw} dev u${i} table 100` : `route del ${six ? '::/0' : 'default'} table 100`]],
    ] as const)();
  }

  private rule(): string[] {
    const r = this.r;
    const six = r.chance(0.4);
    const p = six ? '-6 ' : '';
    return r.weighted([
      [2, () => [r.chance(0.5) ? `${p}rule del pref 1000` : `${p}rule add fwmark 0x1 table 100 pref 1000`]],
      [1, () => [r.chance(0.5) ? `${p}rule del pref 900` : `${p}rule add to ${six ? PEER6[0] : PEER4[0]} ${r.pick(['prohibit', 'unreachable', 'blackhole'])} pref 900`]],
    ] as const)();
  }

  private neigh(): string[] {
    const r = this.r;
    const i = r.pick(UPLINKS);
    const gw = r.chance(0.5) ? gw6(i) : gw4(i);
    return r.weighted([
      // An entry is announced going FAILED only from a valid state (__neigh_update notifies old & NUD_VALID).
      [3, () => [`neigh replace ${gw} lladdr ${MAC(i)} dev u${i} nud reachable`, `neigh change ${gw} dev u${i} nud failed`]],
      [3, () => [`neigh replace ${gw} lladdr ${MAC(i)} dev u${i} nud ${r.pick(['reachable', 'stale', 'permanent'])}`]],
      [0.7, () => [`neigh del ${gw} dev u${i}`]],
    ] as const)();
  }

  /** A duplicate: the network holds 2001:db8::3 and the host adds it with DAD (dadfailed), or undoes that. */
  private dup(): string[] {
    const a = `${v6(0, 3)}/64`;
    return this.r.chance(0.5)
      ? [`N addr add ${a} dev n0 nodad`, `addr del ${a} dev u0`, `addr add ${a} dev u0`]
      : [`N addr del ${a} dev n0`, `addr del ${a} dev u0`, `addr add ${a} dev u0 nodad`];
  }

  op(): string[] {
    return this.r.weighted([
      [7, () => this.addr()],
      [5, () => this.link()],
      [8, () => this.route()],
      [2, () => this.rule()],
      [3, () => this.neigh()],
      [1, () => this.dup()],
    ] as const)();
  }
}

function generate(seed: number, batches: number): string[][] {
  const r = new Rand(mulberry32(seed));
  const gen = new OpGenerator(r);
  const out: string[][] = [];
  for (let b = 0; b < batches; b++) {
    const batch: string[] = [];
    const n = r.int(1, 5);
    for (let k = 0; k < n; k++) batch.push(...gen.op());
    out.push(batch);
  }
  return out;
}

/** The judge's options for a seed: every hold-down 100-300 ms, cap 800 ms. */
function judgeOptionsFor(seed: number): { holdDowns: HoldDowns; maxSuspectMs: number } {
  const r = new Rand(mulberry32(seed ^ 0x5eed));
  const reasons: VerdictReason[] = ['local-address-removed', 'local-address-dadfailed', 'local-address-expired', 'local-address-replaced',
    'link-down', 'link-removed', 'no-route', 'unreachable', 'source-mismatch', 'neighbour-failed'];
  const holdDowns = Object.fromEntries(reasons.map((x) => [x, r.int(100, 300)])) as HoldDowns;
  return { holdDowns, maxSuspectMs: 800 };
}

// ---- the oracle ----

const { LD_PRELOAD: _preload, ...TOOL_ENV } = process.env;

interface IpAddrInfo { family: string; local: string; prefixlen: number; dadfailed?: boolean; tentative?: boolean }
interface IpLink { ifindex: number; ifname: string; flags: string[]; addr_info?: IpAddrInfo[] }
interface IpRouteGet { type?: string; dst: string; gateway?: string; dev?: string; prefsrc?: string; table?: string }
interface IpNeigh { dst: string; dev: string; state?: string[] }

interface Kernel {
  links: Map<string, IpLink>;
  byIndex: Map<number, IpLink>;
  neigh: IpNeigh[];
}

function readKernel(h: NetNs): Kernel {
  const links = h.ipJson<IpLink[]>('addr show');
  return {
    links: new Map(links.map((l) => [l.ifname, l])),
    byIndex: new Map(links.map((l) => [l.ifindex, l])),
    neigh: h.ipJson<IpNeigh[]>('neigh show'),
  };
}

function routeGet(h: NetNs, args: string[]): { ok: true; route: IpRouteGet } | { ok: false; error: string } {
  try {
    const out = execFileSync('ip', ['-j', '-n', h.name, 'route', 'get', ...args], { encoding: 'utf8', stdio: 'pipe', env: TOOL_ENV });
    return { ok: true, route: (JSON.parse(out) as IpRouteGet[])[0] };
  } catch (err) {
    return { ok: false, error: stderrOf(err) };
  }
}

const ROUTABLE = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast']);

/** What the oracle remembers of a path since its last fine check (the judge's PathMemory). */
interface Baseline { egress: number; sourceOnEgress: boolean }

interface OracleVerdict {
  fine: boolean;
  why: string;
  /** Fine but the judge may legitimately still fail it (a suspected hop with no answer yet): either verdict accepted. */
  ambiguous: string | null;
  egress: number | null;
  sourceOnEgress: boolean;
}

function oracle(h: NetNs, k: Kernel, spec: PathSpec, base: Baseline | null, failedHops: Set<string>): OracleVerdict {
  const markArgs = spec.mark ? ['mark', String(spec.mark)] : [];
  const bad = (why: string): OracleVerdict => ({ fine: false, why, ambiguous: null, egress: null, sourceOnEgress: false });
  // Step 1: the local address.
  const owners = [...k.links.values()].filter((l) => (l.addr_info ?? []).some((a) => a.local === spec.local));
  const alive = owners.filter((l) => l.addr_info!.some((a) => a.local === spec.local && !a.dadfailed));
  if (owners.length === 0) {
    if (spec.local !== ANYIP_SOURCE) return bad('local address on no interface');
    const self = routeGet(h, [spec.local, ...markArgs]);
    if (!self.ok || self.route.type !== 'local') return bad(`AnyIP source not local (${self.ok ? self.route.type ?? 'unicast' : self.error})`);
  } else if (alive.length === 0) {
    return bad('local address dadfailed');
  }
  // Step 2: the lookup from the source.
  const got = routeGet(h, [spec.remote, 'from', spec.local, ...markArgs]);
  if (!got.ok) return bad(`lookup failed: ${got.error}`);
  const r = got.route;
  const type = r.type ?? 'unicast';
  if (!ROUTABLE.has(type)) return bad(`lookup answered ${type}`);
  const dev = r.dev ? k.links.get(r.dev) : undefined;
  if (r.dev && !dev) return bad(`egress ${r.dev} unknown`);
  if (dev && !(dev.flags.includes('UP') && dev.flags.includes('LOWER_UP'))) return bad(`egress ${dev.ifname} down or without carrier (${dev.flags.join(',')})`);
  // Step 3: the next hop.
  let ambiguous: string | null = null;
  if (dev && type === 'unicast') {
    const hop = r.gateway ?? spec.remote;
    const n = k.neigh.find((x) => x.dev === dev.ifname && x.dst === hop);
    const state = n?.state ?? [];
    if (state.includes('FAILED')) return bad(`next hop ${hop} on ${dev.ifname} FAILED`);
    // Once suspect for neighbour-failed, no entry or INCOMPLETE is no answer either (docs/verdicts.md, check 3).
    if ((!n || state.includes('INCOMPLETE')) && failedHops.has(`${dev.ifname}|${hop}`)) ambiguous = `next hop ${hop} on ${dev.ifname} was FAILED and has not answered since (${n ? state.join(',') : 'no entry'})`;
  }
  const egress = dev?.ifindex ?? null;
  const sourceOnEgress = !!dev && (dev.addr_info ?? []).some((a) => a.local === spec.local);
  // Step 4: the source must fit the egress (history: the egress at the last fine check).
  if (base && egress !== null && egress !== base.egress && base.sourceOnEgress && !sourceOnEgress) {
    const plain = routeGet(h, [spec.remote, ...markArgs]);
    const prefsrc = plain.ok ? plain.route.prefsrc ?? null : null;
    const ownerIsLoopback = owners.some((l) => l.flags.includes('LOOPBACK'));
    if (prefsrc !== null && prefsrc !== spec.local && !ownerIsLoopback) {
      return bad(`source-mismatch: egress moved ${k.byIndex.get(base.egress)?.ifname ?? `#${base.egress}`} -> ${dev!.ifname}, which does not hold the source; new connections use ${prefsrc}`);
    }
  }
  return { fine: true, why: `${type} ${r.gateway ? `via ${r.gateway} ` : ''}dev ${r.dev ?? '-'}`, ambiguous, egress, sourceOnEgress };
}

// ---- the run ----

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tracked {
  spec: PathSpec;
  watch: PathWatch | null;
  heard: string[];
  base: Baseline | null;
  lastGone: { reason: VerdictReason; evidence: readonly EvidenceEntry[] } | null;
}

interface Mismatch { batch: number; path: string; expected: string; actual: string; oracle: string; evidence: string }

function evidenceText(entries: readonly EvidenceEntry[], t0: number): string {
  return entries.map((e) => `      ${Math.round(e.time - t0)} ${e.kind}: ${e.summary}`).join('\n');
}

const SEEDS = (process.env.RG_JUDGE_DIFF_SEEDS ?? '1,2,3').split(',').map(Number);
const BATCHES = Number(process.env.RG_JUDGE_DIFF_BATCHES ?? 10);
const REPLAY = process.env.RG_JUDGE_DIFF_REPLAY;

describeNetns('the judge against a kernel oracle, randomized (seeded differential)', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    while (cleanup.length) {
      try {
        cleanup.pop()!();
      } catch {
        /* best effort */
      }
    }
  });

  async function run(label: string, seed: number, batches: string[][]): Promise<void> {
    const h = createNetns('rgjdh');
    cleanup.push(() => h.destroy());
    const n = createNetns('rgjdn');
    cleanup.push(() => n.destroy());
    for (const ns of [h, n]) {
      ns.exec('sysctl', ['-qw', 'net.ipv6.conf.default.router_solicitations=0', 'net.ipv6.conf.all.router_solicitations=0']);
    }
    n.exec('sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
    for (const i of UPLINKS) {
      h.ip(['link', 'add', `u${i}`, 'type', 'veth', 'peer', 'name', `n${i}`, 'netns', n.name]);
      h.ip(`link set u${i} up`);
    }
    n.ipBatch(networkSetup());
    applyIpOps(h, hostSetup(), n);
    const mode = seed % 2 ? 'events' : 'mirror';
    const monitor = new NetlinkMonitor({ netns: h.path, routes: mode });
    await monitor.start();
    cleanup.push(() => monitor.close());
    const options = judgeOptionsFor(seed);
    const judge = new PathJudge(monitor, options);
    cleanup.push(() => judge.close());
    const maxHold = Math.max(...Object.values(options.holdDowns));
    const t0 = performance.timeOrigin + performance.now();

    const tracked: Tracked[] = watchedPaths().map((spec) => ({ spec, watch: null, heard: [], base: null, lastGone: null }));
    const watch = (t: Tracked) => {
      const w = judge.watch(t.spec);
      t.watch = w;
      t.heard = [];
      const at = () => Math.round(performance.timeOrigin + performance.now() - t0);
      w.on('suspect', (i) => t.heard.push(`${at()} suspect ${i.reason}`));
      w.on('recovered', (i) => t.heard.push(`${at()} recovered ${i.reason}`));
      w.on('gone', (i) => {
        t.heard.push(`${at()} gone ${i.reason}`);
        t.lastGone = { reason: i.reason, evidence: i.evidence };
      });
      w.on('ended', (i) => t.heard.push(`${at()} ended ${i.code}`));
      return w.state;
    };

    const applied: Array<{ ops: string[]; errors: string }> = [];
    const mismatches: Mismatch[] = [];
    let failedHops = new Set<string>();
    let checks = 0;

    const check = async (batch: number, ops: string[]) => {
      // Wait until the judge must have settled: events in (a hold-down), then no path
      // suspect, or past the cap plus the longest hold-down (and DAD when an op ran it).
      const dad = ops.some((o) => /^addr add \S+:\S+ dev u\d$/.test(o));
      // A carrier change is announced by linkwatch up to 1 s late (non-urgent events are
      // rate-limited to one per second), while `ip link` shows LOWER_UP at once.
      const carrier = ops.some((o) => /^(N )?link /.test(o));
      const start = Date.now();
      await sleep(Math.max(maxHold + 250, carrier ? 1300 : 0));
      const limit = options.maxSuspectMs + maxHold + 600 + (dad ? 1500 : 0);
      for (;;) {
        const suspect = tracked.some((t) => t.watch && t.watch.state === 'suspect');
        const tentative = dad && readKernel(h).links.size > 0 && [...readKernel(h).links.values()].some((l) =>
          l.flags.includes('LOWER_UP') && (l.addr_info ?? []).some((a) => a.tentative && !a.local.startsWith('fe80')));
        if ((!suspect && !tentative) || Date.now() - start > limit) break;
        await sleep(50);
      }
      if (dad) await sleep(maxHold + 200); // a dadfailed seen at the last poll still needs its hold-down
      checks++;
      const k = readKernel(h);
      for (const t of tracked) {
        const o = oracle(h, k, t.spec, t.watch ? t.base : null, failedHops);
        const key = keyOf(t.spec);
        const report = (expected: string, actual: string) =>
          mismatches.push({
            batch, path: key, expected, actual,
            oracle: `${o.why}; judge's last route: ${t.watch?.route ? `oif ${t.watch.route.oif} via ${t.watch.route.gateway ?? '-'} src ${t.watch.route.preferredSource ?? '-'}` : '-'}`,
            evidence: `    heard: ${t.heard.join(' | ') || '-'}\n    evidence:\n${evidenceText(t.watch?.evidence ?? t.lastGone?.evidence ?? [], t0)}`,
          });
        if (!t.watch) {
          // Gone earlier: watched again once the oracle calls it fine.
          if (!o.fine) continue;
          const state = watch(t);
          if (state !== 'viable' && !o.ambiguous) report('viable (watched again)', `${state} ${t.watch!.reason}`);
          t.base = o.egress !== null ? { egress: o.egress, sourceOnEgress: o.sourceOnEgress } : null;
          continue;
        }
        const state = t.watch.state;
        if (o.fine) {
          if (state !== 'viable' && !o.ambiguous) report('viable', `${state} ${t.watch.reason}`);
          if (state === 'viable' && o.egress !== null) t.base = { egress: o.egress, sourceOnEgress: o.sourceOnEgress };
        } else if (state !== 'gone') {
          report(`gone (${o.why})`, `${state}${t.watch.reason ? ` ${t.watch.reason}` : ''}`);
        }
        if (t.watch.state === 'gone') {
          t.watch.close();
          t.watch = null;
          t.base = null;
        }
      }
      // Hops FAILED now: a path suspect for one of them stays so while it has not answered.
      failedHops = new Set(k.neigh.filter((x) => x.state?.includes('FAILED')).map((x) => `${x.dev}|${x.dst}`));
    };

    // The first check: every path fine and viable at watch time.
    {
      const k = readKernel(h);
      for (const t of tracked) {
        const o = oracle(h, k, t.spec, null, failedHops);
        const state = watch(t);
        if (!o.fine || state !== 'viable') {
          mismatches.push({ batch: -1, path: keyOf(t.spec), expected: o.fine ? 'viable' : 'suspect', actual: state, oracle: o.why, evidence: evidenceText(t.watch!.evidence, t0) });
        }
        if (o.egress !== null) t.base = { egress: o.egress, sourceOnEgress: o.sourceOnEgress };
      }
    }

    for (let b = 0; b < batches.length; b++) {
      // Hops failed by this batch count as suspected (the judge heard them FAILED).
      for (const op of batches[b]) {
        // `neigh del` too: the kernel announces the entry FAILED, then removes it (neigh_delete).
        const m = /^neigh (?:change (\S+) dev (\S+) nud failed|del (\S+) dev (\S+))$/.exec(op);
        if (m && m[3]) failedHops.add(`${m[4]}|${m[3]}`);
        else if (m) failedHops.add(`${m[2]}|${m[1]}`);
      }
      applied.push({ ops: batches[b], errors: applyIpOps(h, batches[b], n) });
      await check(b, batches[b]);
    }
    const ops = applied.reduce((s, x) => s + x.ops.length, 0);
    const c = judge.counters();
    console.log(`${label} (routes: '${mode}'): ${ops} ops in ${applied.length} batches, ${checks} checks of ${tracked.length} paths; ` +
      `suspected ${Object.values(c.suspected).reduce((s, x) => s + x, 0)}, gone ${JSON.stringify(Object.fromEntries(Object.entries(c.verdicts.gone).filter(([, v]) => v)))}, ` +
      `${mismatches.length} mismatches`);
    if (mismatches.length) {
      const file = path.join(os.tmpdir(), `rg-judge-differential-${label}.json`);
      writeFileSync(file, JSON.stringify({ seed, label, options, batches: applied.map((x) => x.ops), applied, mismatches }, null, 2));
      const log = applied.map((x, i) => `--- batch ${i}\n${x.ops.join('\n')}${x.errors ? `\n  [refused]\n  ${x.errors.split('\n').join('\n  ')}` : ''}`).join('\n');
      const list = mismatches.map((m) => `batch ${m.batch}: ${m.path}: expected ${m.expected}, judge ${m.actual}\n    oracle: ${m.oracle}\n${m.evidence}`).join('\n');
      expect.fail(`${label}: ${mismatches.length} verdicts differ from the kernel oracle (seed ${seed}, options ${JSON.stringify(options)})\n${list}\n\nops (also in ${file}):\n${log}`);
    }
  }

  if (REPLAY) {
    it(`replays ${REPLAY}`, async () => {
      const { seed, batches } = JSON.parse(readFileSync(REPLAY, 'utf8')) as { seed: number; batches: string[][] };
      await run('replay', seed ?? 1, batches);
    }, 600_000);
  } else {
    for (const seed of SEEDS) {
      it(`seed ${seed}: ${BATCHES} batches of churn and loss, every verdict as the kernel says once settled`, async () => {
        await run(`seed-${seed}`, seed, generate(seed, BATCHES));
      }, 600_000);
    }
  }
});
