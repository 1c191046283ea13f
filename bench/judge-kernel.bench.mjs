// Path judge on the real kernel: 100,000 watched paths (10 local IPv6 addresses x 10,000
// peers behind a default route) in a private namespace (rgjudge-<pid>), the judge's
// lookups answered by RTM_GETROUTE through a NetlinkMonitor in `routes: 'events'` mode
// (what a guard runs). Side by side in one run: the monitor as it is (bursts and big
// passes ask their lookups in batches, monitor.lookupRoutes) and the same monitor
// behind a source without lookupRoutes (every lookup its own request and reply).
// Measures, as medians over fresh child processes:
//   - watch() of all paths, through the settled first checks (the burst's lookups), and
//     the kernel's floor for those lookups (bench/lookup-floor.c, in the same namespace);
//   - heap per watched path;
//   - one local address of 10,000 paths deleted (`ip addr del`): the judge's pass for
//     that event (10,000 paths suspect, every path on the interface re-checked);
//   - deadline -> 10,000 verdicts: from the hold-down's end (the clock time the judge
//     gave in 'suspect') to the last 'gone' heard, on the judge's real timers; for the
//     process's first loss and for a second one (the address restored, its paths
//     watched again, deleted again); and inside it, how late the judge's timer fired and
//     the main thread's time on a CPU and waiting for one (/proc/thread-self/schedstat).
// A third column runs the batched child on Node 24 (the registry's `node@24`, cached in
// .cache/node-matrix): Node 20's life ended in April 2026, and V8 13 tiers code differently.
// Prints one markdown section on stdout; progress on stderr.
// Options: --quick (10,000 paths over 1,000 peers), --runs=N (default 5: the first loss is
// the noisiest figure), --modes=batched,single,node24.
import { execFileSync, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { runLookupFloor } from './lookup-floor.mjs';
import { BenchNamespace } from './namespace.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(HERE, '..', 'dist');
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const QUICK = process.argv.includes('--quick');
const LOCALS = 10;
const PEERS = QUICK ? 1000 : 10_000;
const PATHS = LOCALS * PEERS;
const RUNS = Number(arg('runs') ?? 5);
const log = (m) => process.stderr.write(`[judge-kernel.bench] ${m}\n`);

const localOf = (i) => `2001:db8:1::${(0x10 + i).toString(16)}`;
const peerOf = (i) => '2001:db8:ff::1:' + i.toString(16);

// The child runs inside the namespace (ip netns exec), so the monitor needs no netns option.
const CHILD = `
const { performance } = require('node:perf_hooks');
const { execFileSync } = require('node:child_process');
const { readFileSync, readdirSync } = require('node:fs');
const { NetlinkMonitor, PathJudge, realClock } = require(${JSON.stringify(DIST)});
const LOCALS = ${LOCALS}, PEERS = ${PEERS};
const localOf = ${localOf.toString()};
const peerOf = ${peerOf.toString()};
// Canonical, flat strings, as socket.localAddress / remoteAddress give them (a template
// literal makes a cons string, which every Map lookup would flatten first).
const flat = (xs) => JSON.parse(JSON.stringify(xs));
const LOCAL_TEXT = flat(Array.from({ length: LOCALS }, (_, i) => localOf(i)));
const PEER_TEXT = flat(Array.from({ length: PEERS }, (_, i) => peerOf(i)));
(async () => {
  const monitor = await new NetlinkMonitor({ routes: 'events' }).start();
  // The same monitor without its batch entry point: what the judge does one lookup at a time.
  const single = {
    get state() { return monitor.state; },
    get synced() { return monitor.synced; },
    lookupRoute: (q) => monitor.lookupRoute(q),
    on: (e, fn) => (monitor.on(e, fn), single),
    off: (e, fn) => (monitor.off(e, fn), single),
  };
  // Registered before the judge's listener, so it runs first: the time from here to the
  // last 'suspect' (emitted when the judge's pass ends) is the judge's pass.
  let eventAt = 0;
  monitor.on('event', (e) => { if (e.type === 'address' && e.action === 'removed' && !eventAt) eventAt = performance.now(); });
  const source = process.env.MODE === 'batched' ? monitor : single;
  if (process.env.MODE === 'batched' && typeof monitor.lookupRoutes !== 'function') throw new Error('this monitor has no lookupRoutes');
  // The judge's own clock, with each timer's firing noted: when the deadline's pass began, and
  // the main thread's time on a CPU and waiting for one so far (ns, /proc/thread-self/schedstat).
  const schedstat = () => readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  // The process's other threads on a CPU so far (ns): V8's platform workers (its concurrent
  // compiler and GC helpers), libuv's pool. They share this machine's CPUs with the main thread.
  const mainTid = readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0];
  const othersOnCpu = () => {
    let ns = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      if (tid === mainTid) continue;
      try { ns += Number(readFileSync('/proc/self/task/' + tid + '/schedstat', 'utf8').split(' ')[0]); } catch {}
    }
    return ns;
  };
  let fired = { at: 0, sched: [0, 0], others: 0 };
  const clock = {
    now: realClock.now,
    setTimeout: (fn, ms) => realClock.setTimeout(() => { fired = { at: realClock.now(), sched: schedstat(), others: othersOnCpu() }; fn(); }, ms),
    clearTimeout: realClock.clearTimeout,
  };
  const judge = new PathJudge(source, { clock });
  global.gc();
  const heap0 = process.memoryUsage().heapUsed;
  const watches = [];
  const t0 = performance.now();
  for (let l = 0; l < LOCALS; l++) for (let p = 0; p < PEERS; p++) watches.push(judge.watch({ local: LOCAL_TEXT[l], remote: PEER_TEXT[p] }));
  judge.counters(); // the burst's first checks run when anything reads a state
  const watchMs = performance.now() - t0;
  global.gc();
  const heapPerPath = (process.memoryUsage().heapUsed - heap0) / watches.length;
  const viable = watches.filter((w) => w.state === 'viable').length;
  if (viable !== watches.length) throw new Error('only ' + viable + ' of ' + watches.length + ' paths viable after watch()');

  // The loss: local 0 deleted from outside; its paths' verdicts timed from their deadline.
  const lose = async (victims) => {
    let lastSuspect = 0, deadline = 0, lastGone = 0, gone = 0, suspect = 0, sched = null, others = 0;
    eventAt = 0;
    const done = new Promise((resolve) => {
      for (const w of victims) {
        // Listeners as light as a service's (which would close a socket): the clock is read
        // once, at the last one (reading it 10k times cost ~4 ms of the measured pass).
        w.once('suspect', (info) => { if (++suspect === victims.length) { lastSuspect = performance.now(); deadline = info.deadline; } });
        // The judge's clock: performance.timeOrigin + performance.now() (see realClock).
        w.once('gone', () => { if (++gone === victims.length) { lastGone = performance.timeOrigin + performance.now(); sched = schedstat(); others = othersOnCpu(); resolve(); } });
      }
    });
    execFileSync('ip', ['addr', 'del', localOf(0) + '/64', 'dev', 'v0']);
    await done;
    if (suspect !== victims.length) throw new Error(suspect + ' of ' + victims.length + ' paths reported suspect');
    return {
      eventMs: lastSuspect - eventAt,
      verdictMs: lastGone - deadline,
      // From the hold-down's end to the judge's timer, then the main thread in the pass that followed.
      lateMs: fired.at - deadline,
      cpuMs: (sched[0] - fired.sched[0]) / 1e6,
      queuedMs: (sched[1] - fired.sched[1]) / 1e6,
      othersMs: (others - fired.others) / 1e6,
    };
  };
  const first = await lose(watches.slice(0, PEERS));
  const lookups = judge.counters().kernelLookups;
  // A second loss in the same process: the address back, its paths watched again, deleted again
  // (the judge's code has run once: what a service sees after its first loss).
  execFileSync('ip', ['addr', 'add', localOf(0) + '/64', 'dev', 'v0', 'nodad']);
  await new Promise((r) => setTimeout(r, 500));
  const again = [];
  for (let p = 0; p < PEERS; p++) again.push(judge.watch({ local: LOCAL_TEXT[0], remote: PEER_TEXT[p] }));
  if (again.some((w) => w.state !== 'viable')) throw new Error('paths of the restored address not viable');
  const second = await lose(again);
  console.log(JSON.stringify({ ok: true, watchMs, heapPerPath, eventMs: first.eventMs, verdictMs: first.verdictMs,
    verdictMs2: second.verdictMs, lookups, first, second }));
  judge.close();
  monitor.close();
})().catch((err) => { console.log(JSON.stringify({ ok: false, error: String(err && err.stack || err) })); process.exitCode = 1; });
`;

/**
 * The kernel's floor for watch(): the lookups the burst asks (each path from its own
 * address, and each peer once without a source, for the source new connections get),
 * sent by bench/lookup-floor.c, 1024 per sendmsg, in the same namespace.
 */
function watchFloor(ns) {
  const peers = Array.from({ length: PEERS }, (_, i) => peerOf(i));
  const queries = [...peers];
  for (let l = 0; l < LOCALS; l++) for (const p of peers) queries.push(`${p} ${localOf(l)}`);
  const us = runLookupFloor(ns, RUNS, queries);
  return { perPathUs: (us * queries.length) / PATHS, perLookupUs: us, lookups: queries.length };
}

function makeNamespace(name) {
  const ns = new BenchNamespace(name);
  ns.create();
  // No DAD for the veth's link-local addresses: a settled host's addresses change no state
  // under the measurement (their DAD ending would be address events, which rightly make
  // the judge ask the kernel again).
  execFileSync('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
  const lines = [
    'link add v0 type veth peer name v1',
    'link set v0 up',
    'link set v1 up',
    // nodad: the addresses are usable at once (no tentative window in the measurement).
    ...Array.from({ length: LOCALS }, (_, i) => `addr add ${localOf(i)}/64 dev v0 nodad`),
    'route add default via 2001:db8:1::1 dev v0',
  ];
  ns.batch(lines);
  return ns;
}

function runChild(ns, mode) {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, mode.node, '--expose-gc', '-e', CHILD], {
      env: { ...process.env, MODE: mode.source },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        resolve({ ok: false, error: out });
      }
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => (x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);
const n = (x) => x.toLocaleString('en-US');

// `source`: the child's MODE (the monitor itself, or behind a source without lookupRoutes).
const MODES = [
  { id: 'batched', source: 'batched', node: process.execPath },
  { id: 'single', source: 'single', node: process.execPath },
  { id: 'node24', source: 'batched', node: null },
].filter((m) => !arg('modes') || arg('modes').split(',').includes(m.id));
let node24 = MODES.find((m) => m.id === 'node24');
if (node24) {
  try {
    const { nodeFromPackage } = createRequire(import.meta.url)('../scripts/node-binaries.js');
    node24.node = nodeFromPackage('node@24');
    node24.version = execFileSync(node24.node, ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    // No registry here: the other columns still measure.
    log(`no Node 24 (${err.message.split('\n')[0]}): its column says n/a`);
    MODES.splice(MODES.indexOf(node24), 1);
    node24 = undefined;
  }
}

const results = Object.fromEntries(MODES.map((m) => [m.id, []]));
let ns;
let floor;
const started = Date.now();
try {
  ns = makeNamespace(`rgjudge-${process.pid}-floor`);
  log('C floor of the watch burst');
  floor = watchFloor(ns);
  ns.remove();
  for (let r = 0; r < RUNS; r++) {
    for (const m of MODES) {
      // A fresh namespace per run: the loss deletes an address.
      ns = makeNamespace(`rgjudge-${process.pid}-${r}-${m.id}`);
      log(`run ${r + 1}/${RUNS}: ${m.id}`);
      const res = await runChild(ns, m);
      ns.remove();
      if (!res.ok) throw new Error(`${m.id}: ${res.error}`);
      results[m.id].push(res);
    }
  }
} finally {
  ns?.remove();
}

const col = (id, f) => (results[id]?.length ? median(results[id].map(f)) : NaN);
const row = (label, f, fmt, goal) => {
  const b = col('batched', f);
  const s = col('single', f);
  const v24 = node24 ? fmt(col('node24', f)) : 'n/a';
  return `| ${label} | ${fmt(b)} | ${fmt(s)} | ${(s / b).toFixed(1)}× | ${v24} | ${goal} |`;
};
const perWatchUs = (r) => (r.watchMs * 1000) / PATHS;
const split = (key, id = 'batched') => `${ms(col(id, (r) => r.first[key]))} / ${ms(col(id, (r) => r.second[key]))}`;
const lookups = col('batched', (r) => r.lookups);

process.stdout.write(`## Path judge on the kernel: ${n(PATHS)} watched paths over ${n(PEERS)} peers

Private namespace (a veth with ${LOCALS} IPv6 addresses, a default route), \`NetlinkMonitor({ routes: 'events' })\`,
the judge on real timers; every lookup is an \`RTM_GETROUTE\`. Medians of ${RUNS} fresh processes per column on
${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} at the end;
run took ${((Date.now() - started) / 1000).toFixed(0)} s. "Batched": the monitor answers bursts through
\`lookupRoutes\` (many requests per \`sendmsg\`); "one at a time": the same monitor behind a source without it;
"batched, ${node24?.version ?? 'Node 24'}": the batched child on Node 24 (Node 20's life ended in April 2026).
The loss deletes one local address (\`ip addr del\`): its ${n(PEERS)} paths are suspect, and since the other
addresses reach the peers, gone at the 3 s hold-down. The first loss in a process also runs the judge's
deadline code for the first time (V8 compiles it while it runs); the second restores the address, watches
its ${n(PEERS)} paths again and deletes it again.

| measure | batched | one at a time | one at a time / batched | batched, ${node24?.version ?? 'Node 24'} | goal |
|---|--:|--:|--:|--:|---|
${row(`watch() of ${n(PATHS)} paths, per path (first checks settled)`, perWatchUs, (x) => `${x.toFixed(1)} µs`, '≤ 10 µs')}
| the kernel alone: the burst's ${n(floor.lookups)} lookups from C, per path | ${floor.perPathUs.toFixed(1)} µs (${floor.perLookupUs.toFixed(2)} µs per lookup; watch() takes ${(col('batched', perWatchUs) / floor.perPathUs).toFixed(2)}× this) | | | | |
${row('heap per watched path', (r) => r.heapPerPath, (x) => `${x.toFixed(0)} B`, '≤ 512 B')}
${row(`address of ${n(PEERS)} paths deleted: the judge's pass (${n(PATHS)} paths re-checked)`, (r) => r.eventMs, ms, '')}
${row(`deadline -> ${n(PEERS)} verdicts: the process's first loss`, (r) => r.verdictMs, ms, '≤ 20 ms')}
${row(`deadline -> ${n(PEERS)} verdicts: a second loss in the same process`, (r) => r.verdictMs2, ms, '≤ 20 ms')}

Kernel lookups asked in all (batched run): ${n(lookups)} for ${n(PATHS)} watches, the loss and its verdicts.

Inside "deadline -> verdicts" (batched, medians): the judge's timer fired ${split('lateMs')} after the hold-down's
end; from there to the last verdict the main thread was on a CPU for ${split('cpuMs')} and waiting for one for
${split('queuedMs')}, and the process's other threads were on a CPU for ${split('othersMs')} (first loss / second loss;
\`/proc/<pid>/task/*/schedstat\`). A first loss shares this machine's ${os.cpus().length} CPUs with V8 compiling the
deadline's code on its background threads.${node24 ? ` On ${node24.version}: timer late ${split('lateMs', 'node24')}, main
thread on a CPU ${split('cpuMs', 'node24')}, waiting ${split('queuedMs', 'node24')}, other threads ${split('othersMs', 'node24')}.` : ''}

`);
