// Events benchmark: how fast route changes reach JS, and what sustained churn costs.
//
// Two private namespaces (rgevents-<pid>-small / -big): a veth with 198.51.100.1/24 each, and
// in "big" the routes bench's full-table mix (1M routes; 100k with --quick). Route changes
// are sent by bench/churn.c straight over NETLINK_ROUTE in table 100 (/24s via gateways on
// the veth), so no process start-up sits between two changes. Contenders, each a fresh
// child process that prints {"ready":true} once it listens, then a JSON line when told to stop:
//
//   routeguard  `new NetlinkMonitor({ netns })`: the full mirror (every route of every table)
//   lean        `new NetlinkMonitor({ netns, routes: 'events' })`: no route table
//   ipmon       `ip -n NS monitor route` spawned from Node, its lines split and parsed
//   netlink     npm `netlink`: createRtNetlink() joined to RTNLGRP_IPV4_ROUTE, under `ip netns exec`
//
// Latency: churn.c adds one /24 every 5 ms and prints CLOCK_MONOTONIC just before each
// sendto; the child stamps process.hrtime.bigint() (the same clock) when the route reaches
// its handler. "busy": the child's loop runs 10 ms synchronous tasks back to back.
// Throughput: churn at 50k, 100k, 200k route changes/s for 10 s (2 s with --quick) in the
// big namespace: the child's CPU (ip's too for ipmon) per 10k changes/s, changes received,
// overflows, and, for the full mirror, table 100 compared with `ip -j route show table 100`
// once quiet (after the resync an overflow triggers).
//
// Prints one markdown section on stdout; progress on stderr. Options: --quick, --runs=N,
// --contenders=routeguard,lean,ipmon,netlink, --rates=50000,100000, --seconds=S.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchNamespace } from './namespace.mjs';
import { mixLines } from './routes.bench.mjs';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SELF = fileURLToPath(import.meta.url);
const CHURN_SRC = path.join(HERE, 'churn.c');
const CHURN = path.join(ROOT, 'build', 'bench', 'churn');
const DIST = process.env.RGBENCH_DIST ? path.resolve(process.env.RGBENCH_DIST) : path.join(ROOT, 'dist');
const TABLE = 100;
const GW = ['198.51.100.2', '198.51.100.3'];
const LATENCY_COUNT = 200;
const LATENCY_INTERVAL_MS = 5;

function argValue(name) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : undefined;
}

function log(...args) {
  process.stderr.write(`[events.bench] ${args.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------
// Child: one listener. Reports per-route arrival times (latency) or counts (rate).
// ---------------------------------------------------------------------------------

/** "10.0.5.0" -> its churn index (10.x.y.0/24: x * 256 + y). */
const churnIndex = (dst) => {
  const m = /^10\.(\d+)\.(\d+)\.0$/.exec(dst);
  return m ? Number(m[1]) * 256 + Number(m[2]) : -1;
};

function procCpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1000) / 100; // USER_HZ
}

async function child(kind, nsName) {
  const nsPath = `/run/netns/${nsName}`;
  const busy = process.argv.includes('--busy');
  const arrivals = new Map(); // churn index -> hrtime ns of its first "added"
  let received = 0;
  let extraCpuMs = () => 0;
  let finish = async () => ({});
  const onRoute = (added, dst, table) => {
    if (table !== TABLE) return;
    received++;
    if (!added) return;
    const i = churnIndex(dst);
    if (i >= 0 && !arrivals.has(i)) arrivals.set(i, process.hrtime.bigint());
  };
  if (kind === 'routeguard' || kind === 'lean') {
    const { NetlinkMonitor } = require(path.join(DIST, 'index.js'));
    const monitor = new NetlinkMonitor({ netns: nsPath, confirmDelayMs: false, routes: kind === 'lean' ? 'events' : 'mirror' });
    let resyncs = 0;
    monitor.on('event', (e) => {
      if (e.type === 'route') onRoute(e.action !== 'removed', e.route.destination, e.route.table);
      else if (e.type === 'resync') resyncs++;
    });
    await monitor.start();
    finish = async () => {
      const stats = monitor.stats();
      // Quiet: an overflow's resync has finished (or none was needed).
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const before = received + resyncs;
        await new Promise((r) => setTimeout(r, 500));
        if (received + resyncs === before && resyncs >= Math.min(monitor.stats().overflows, 1)) break;
      }
      const table = kind === 'routeguard' ? [...monitor.state.routes()].filter((r) => r.table === TABLE).map((r) => `${r.destination}/${r.destinationLength} ${r.gateway}`).sort() : null;
      const out = { overflows: monitor.stats().overflows, overflowsAtStop: stats.overflows, resyncs, table };
      monitor.close();
      return out;
    };
  } else if (kind === 'ipmon') {
    const ip = spawn('ip', ['-n', nsName, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    let errors = '';
    ip.stderr.on('data', (d) => (errors += d));
    ip.stdout.setEncoding('utf8');
    ip.stdout.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines) {
        const removed = line.startsWith('Deleted ');
        const words = (removed ? line.slice(8) : line).split(' ');
        const t = words.indexOf('table');
        const table = t >= 0 ? Number(words[t + 1]) : 254;
        onRoute(!removed && !line.startsWith('Replaced'), words[0].split('/')[0], table);
      }
    });
    await new Promise((r) => setTimeout(r, 300)); // ip has joined its groups
    extraCpuMs = () => procCpuMs(ip.pid);
    finish = async () => {
      await quiet(() => received);
      ip.kill();
      return { ipErrors: errors.trim().split('\n').filter(Boolean).length };
    };
  } else if (kind === 'netlink') {
    const { createRtNetlink } = require('netlink');
    const socket = createRtNetlink();
    socket.addMembership(7); // RTNLGRP_IPV4_ROUTE
    let errors = 0;
    socket.socket.on('error', () => errors++);
    socket.on('message', (msgs) => {
      // The package's parsed messages do not say RTM_NEWROUTE from RTM_DELROUTE: the first
      // message for a prefix is its add (latency), every message counts (throughput).
      for (const m of msgs) {
        if (m.kind !== 'route' || !m.attrs?.dst) continue;
        onRoute(true, [...m.attrs.dst].join('.'), m.attrs.table ?? m.data.table);
      }
    });
    finish = async () => {
      await quiet(() => received);
      socket.socket.close();
      return { socketErrors: errors };
    };
  }
  let stopping = false;
  if (busy) {
    const spin = () => {
      const end = performance.now() + 10;
      while (performance.now() < end);
      if (!stopping) setImmediate(spin);
    };
    setImmediate(spin);
  }
  const cpu0 = process.cpuUsage();
  const extra0 = extraCpuMs();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  await new Promise((resolve) => {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => d.includes('stop') && resolve());
  });
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 + (extraCpuMs() - extra0);
  stopping = true;
  const extra = await finish();
  // Arrival times matter for latency runs only (a few hundred); churn runs send counts.
  const times = arrivals.size <= 10_000 ? [...arrivals].map(([i, t]) => [i, String(t)]) : [];
  // exit() once the line is out: a pipe takes 64 KiB at once, the rest is written later.
  process.stdout.write(JSON.stringify({ ok: true, cpuMs, received, arrivals: times, ...extra }) + '\n', () => process.exit(0));
}

async function quiet(count) {
  for (let last = -1; count() !== last; ) {
    last = count();
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------

function ensureChurn() {
  const fresh = fs.existsSync(CHURN) && fs.statSync(CHURN).mtimeMs >= fs.statSync(CHURN_SRC).mtimeMs;
  if (fresh) return;
  fs.mkdirSync(path.dirname(CHURN), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-o', CHURN, CHURN_SRC], { stdio: 'inherit' });
}

/** Makes the namespace with a veth (rgb0/rgb1) the churn routes point through. */
function createWithChurnLink(ns) {
  ns.create();
  for (const a of ['link add rgb0 type veth peer name rgb1', 'addr add 198.51.100.1/24 dev rgb0', 'link set rgb0 up', 'link set rgb1 up']) {
    ns.ip(a);
  }
}

function flushChurn(ns) {
  try {
    execFileSync('ip', ['-n', ns.name, 'route', 'flush', 'table', String(TABLE)], { stdio: 'ignore' });
  } catch {
    // an empty table: ip exits 2 with nothing to flush
  }
}

const running = new Set();

/** Starts a contender child; resolves once it is listening, with stop() for its report. */
function startChild(kind, ns, busy) {
  const args = ['--expose-gc', SELF, `--child=${kind}`, `--netns=${ns.name}`, ...(busy ? ['--busy'] : [])];
  const proc = kind === 'netlink'
    ? spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(proc);
  proc.stdin.on('error', () => {}); // a child that died: next() reports why
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const lines = [];
  let wake = null;
  proc.stdout.on('data', (d) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop();
    lines.push(...parts.filter(Boolean));
    wake?.();
  });
  const closed = new Promise((r) => proc.on('close', r));
  const next = async (timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) throw new Error(`${kind}: ${err.trim().split('\n').pop() || (proc.exitCode !== null ? `exit ${proc.exitCode ?? proc.signalCode}` : 'no answer')}`);
      await Promise.race([new Promise((r) => (wake = r)), closed, new Promise((r) => setTimeout(r, 200))]);
    }
    return JSON.parse(lines.shift());
  };
  return next(300_000).then(() => ({
    stop: async () => {
      proc.stdin.write('stop\n');
      const report = await next(120_000);
      await closed;
      running.delete(proc);
      return report;
    },
  }));
}

function runChurn(args) {
  const out = execFileSync(CHURN, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = out.trim().split('\n');
  const summary = JSON.parse(lines.pop());
  if (!summary.ok) throw new Error(`churn: ${summary.error}`);
  summary.sentAt = new Map(lines.map((l) => l.split(' ')).map(([i, t]) => [Number(i), BigInt(t)]));
  return summary;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measureLatency(kind, ns, busy) {
  flushChurn(ns);
  const c = await startChild(kind, ns, busy);
  const churn = runChurn([ns.path, 'latency', String(LATENCY_COUNT), String(LATENCY_INTERVAL_MS), String(TABLE), GW[0]]);
  await new Promise((r) => setTimeout(r, 200));
  const report = await c.stop();
  const lat = [];
  for (const [i, t] of report.arrivals) {
    const sent = churn.sentAt.get(i);
    if (sent !== undefined) lat.push(Number(BigInt(t) - sent) / 1e6);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), seen: lat.length, sent: LATENCY_COUNT };
}

async function measureRate(kind, ns, rate, seconds) {
  flushChurn(ns);
  const c = await startChild(kind, ns, false);
  const churn = runChurn([ns.path, 'rate', String(rate), String(seconds), String(TABLE), GW[0], GW[1]]);
  const report = await c.stop();
  const result = {
    achieved: churn.sent / (churn.ms / 1000),
    sent: churn.sent,
    churnErrors: churn.errors,
    received: report.received,
    cpuMs: report.cpuMs,
    seconds: churn.ms / 1000,
    overflows: report.overflows ?? null,
    socketErrors: report.socketErrors ?? report.ipErrors ?? 0,
  };
  if (report.table) {
    const kernel = JSON.parse(execFileSync('ip', ['-j', '-n', ns.name, 'route', 'show', 'table', String(TABLE)], { encoding: 'utf8', maxBuffer: 64 << 20 }) || '[]')
      .map((r) => `${r.dst.includes('/') ? r.dst : `${r.dst}/32`} ${r.gateway ?? null}`)
      .sort();
    result.mirrorEqual = JSON.stringify(kernel) === JSON.stringify(report.table);
    result.tableRoutes = kernel.length;
  }
  return result;
}

const CONTENDERS = [
  { id: 'routeguard', label: '**routeguard** full mirror' },
  { id: 'lean', label: "**routeguard** `routes: 'events'` (no route table)" },
  { id: 'ipmon', label: '`ip monitor route` parsed in Node' },
  { id: 'netlink', label: 'npm `netlink` 0.3 event socket' },
];

const fmt = {
  ms: (v) => (v == null ? '–' : v >= 100 ? `${v.toFixed(0)} ms` : v >= 1 ? `${v.toFixed(1)} ms` : `${(v * 1000).toFixed(0)} µs`),
  k: (n) => `${(n / 1000).toFixed(0)}k`,
};

async function main() {
  const quick = process.argv.includes('--quick');
  if (process.getuid?.() !== 0) {
    process.stdout.write('## Events\n\nSkipped: needs root (network namespaces).\n');
    return;
  }
  ensureChurn();
  const bigSize = Number(argValue('big') ?? (quick ? 100_000 : 1_000_000));
  const rates = (argValue('rates') ?? '50000,100000,200000').split(',').map(Number);
  const seconds = Number(argValue('seconds') ?? (quick ? 2 : 10));
  const only = argValue('contenders')?.split(',');
  const contenders = CONTENDERS.filter((c) => !only || only.includes(c.id));
  const small = new BenchNamespace(`rgevents-${process.pid}-small`);
  const big = new BenchNamespace(`rgevents-${process.pid}-big`);
  const cleanup = () => {
    for (const p of running) p.kill('SIGKILL');
    small.remove();
    big.remove();
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanup(); process.kill(process.pid, sig); });
  const started = performance.now();
  const loadStart = os.loadavg()[0];
  createWithChurnLink(small);
  createWithChurnLink(big);
  log(`loading ${bigSize} routes into the big namespace`);
  big.batch(mixLines(bigSize));
  const lat = [];
  for (const [nsLabel, ns] of [['small', small], [`${fmt.k(bigSize)} routes`, big]]) {
    for (const busy of [false, true]) {
      for (const c of contenders) {
        let r;
        try {
          r = await measureLatency(c.id, ns, busy);
        } catch (err) {
          r = { error: String(err.message || err).slice(0, 120) };
        }
        log(`latency ${nsLabel} ${busy ? 'busy' : 'idle'} ${c.id}: ${JSON.stringify(r)}`);
        lat.push({ nsLabel, busy, c, r });
      }
    }
  }
  const rateRows = [];
  for (const rate of rates) {
    for (const c of contenders) {
      let r;
      try {
        r = await measureRate(c.id, big, rate, seconds);
      } catch (err) {
        r = { error: String(err.message || err).slice(0, 120) };
      }
      log(`rate ${rate} ${c.id}: ${JSON.stringify(r)}`);
      rateRows.push({ rate, c, r });
    }
  }
  const lines = [
    '## Events: kernel → JS latency and sustained route churn',
    '',
    `Route changes sent by bench/churn.c over NETLINK_ROUTE into table ${TABLE} of a private namespace (a veth; "${fmt.k(bigSize)} routes" also holds the routes bench's full-table mix). ` +
      `Every contender is a fresh child process, listening before the changes start. Run took ${((performance.now() - started) / 60000).toFixed(1)} min; ` +
      `1-minute load average ${loadStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (${os.cpus().length} CPUs, shared: latencies include waiting for a CPU).`,
    '',
    `### Latency: a route added → its event in JS (${LATENCY_COUNT} adds, ${LATENCY_INTERVAL_MS} ms apart; busy = the loop runs 10 ms synchronous tasks back to back)`,
    '',
    '| contender | namespace | loop | p50 | p99 | seen |',
    '|---|---|---|--:|--:|--:|',
  ];
  for (const { nsLabel, busy, c, r } of lat) {
    lines.push(`| ${c.label} | ${nsLabel} | ${busy ? 'busy' : 'idle'} | ${r.error ? `failed: ${r.error}` : fmt.ms(r.p50)} | ${fmt.ms(r.p99)} | ${r.seen ?? '–'}/${r.sent ?? '–'} |`);
  }
  lines.push(
    '',
    `### Sustained churn: /24 add, replace, delete at a fixed rate for ${seconds} s (${fmt.k(bigSize)}-route namespace)`,
    '',
    'CPU per 10k/s = the listener\'s CPU (for `ip monitor`, ip\'s and Node\'s) over the churn, as a share of one core, per 10k changes/s achieved. ' +
      'Received counts route notifications reaching JS (a full mirror also gets the ones its resync reports as differences). ' +
      'Mirror = kernel: the full mirror\'s table ' + TABLE + ' compared with `ip -j route show table ' + TABLE + '` once quiet.',
    '',
    '| rate asked | contender | achieved | CPU per 10k/s | received / sent | overflows | mirror = kernel |',
    '|--:|---|--:|--:|--:|--:|---|',
  );
  for (const { rate, c, r } of rateRows) {
    if (r.error) {
      lines.push(`| ${fmt.k(rate)}/s | ${c.label} | failed: ${r.error} | | | | |`);
      continue;
    }
    const share = r.cpuMs / (r.seconds * 1000);
    const per10k = share / (r.achieved / 10_000);
    lines.push(
      `| ${fmt.k(rate)}/s | ${c.label} | ${fmt.k(r.achieved)}/s | ${(per10k * 100).toFixed(1)}% of a core | ${r.received}/${r.sent} | ` +
        `${r.overflows ?? (r.socketErrors ? `${r.socketErrors} errors` : '–')} | ${r.mirrorEqual === undefined ? '–' : r.mirrorEqual ? `yes (${r.tableRoutes} routes)` : 'NO'} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

const childArg = process.argv.find((a) => a.startsWith('--child='));
if (childArg) {
  child(childArg.slice('--child='.length), argValue('netns')).catch((err) => {
    process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack || err).split('\n')[0] }) + '\n');
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`events.bench failed: ${err?.stack || err}\n`);
    process.exitCode = 1;
  });
}
