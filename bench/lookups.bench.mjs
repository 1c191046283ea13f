// Kernel route lookups (RTM_GETROUTE): what one answer costs through routeguard, one by
// one and batched, against what a user would do instead (`ip route get`).
//
// A private namespace (rglookup-<pid>) holds ROUTES routes: IPv6 /64s via a gateway on a
// veth, and IPv4 /32s in 203.0.113.0/24. The queries ask about one peer per route (three
// IPv6 for each IPv4, as the routes are). Contenders, each timed over all queries:
//
//   C floor            bench/lookup-floor.c: the same requests, 1024 per sendmsg, answers
//                      read with recvmmsg and discarded. Nearly all kernel time.
//   lookupBatch        a RouteQueryBatch filled from address bytes (what the judge holds),
//                      then NetlinkMonitor.lookupBatch: packing included, one call
//   lookupBatch x100   the same in bursts of 100 queries (a burst of new watches)
//   lookupRoutes       NetlinkMonitor.lookupRoutes with the queries as strings
//   lookupRoute        NetlinkMonitor.lookupRoute, one call per query
//   ip -batch          `ip -n NS -batch -` with one `route get` line per query: one ip
//                      process answering them all, its text output read by Node
//   ip route get       `ip -n NS route get ADDR` spawned per query (SPAWNED queries only)
//
// The monitor is started (routes: 'events'), so lookups go through its own lookup socket.
// Medians of --runs runs (default 7). Prints one markdown section on stdout; progress on stderr.
// Options: --quick (1,000 routes), --routes=N, --runs=N, --spawned=N (default 200).
import { execFile, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { runLookupFloor } from './lookup-floor.mjs';
import { BenchNamespace } from './namespace.mjs';

const require = createRequire(import.meta.url);
const { NetlinkMonitor, RouteQueryBatch, parseIp } = require('../dist/index.js');

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const QUICK = process.argv.includes('--quick');
const ROUTES = Number(arg('routes') ?? (QUICK ? 1000 : 10_000));
const RUNS = Number(arg('runs') ?? 7);
const SPAWNED = Number(arg('spawned') ?? (QUICK ? 50 : 200));
const BURST = 100;
const log = (m) => process.stderr.write(`[lookups.bench] ${m}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Peer k: IPv4 203.0.113.x for every 4th (at most 254), IPv6 2001:db8:<k>::1 otherwise. */
function makeRoutes(n) {
  const lines = [];
  const peers = [];
  let v4 = 0;
  for (let k = 0; k < n; k++) {
    if (k % 4 === 3 && v4 < 254) {
      const host = `203.0.113.${++v4}`;
      lines.push(`route add ${host}/32 via 198.51.100.2`);
      peers.push(host);
    } else {
      const prefix = `2001:db8:${(k >> 8).toString(16)}:${(k & 0xff).toString(16)}`;
      lines.push(`route add ${prefix}::/64 via 2001:db8:ffff::2`);
      peers.push(`${prefix}::1`);
    }
  }
  return { lines, peers };
}

function ipBatch(ns, peers) {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['-n', ns.name, '-batch', '-'], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
    child.stdin.end(peers.map((p) => `route get ${p}`).join('\n') + '\n');
  });
}

async function timeAsync(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function time(fn) {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const ns = new BenchNamespace(`rglookup-${process.pid}`);
process.on('SIGINT', () => {
  ns.remove();
  process.exit(130);
});

let monitor;
try {
  ns.create();
  ns.ip('link add rgb0 type veth peer name rgb1');
  ns.ip('link set rgb0 up');
  ns.ip('link set rgb1 up');
  ns.ip('addr add 198.51.100.1/24 dev rgb0');
  ns.ip('addr add 2001:db8:ffff::1/64 dev rgb0 nodad');
  const { lines, peers } = makeRoutes(ROUTES);
  log(`loading ${ROUTES.toLocaleString('en-US')} routes`);
  ns.batch(lines);
  const queries = peers.map((to) => ({ to }));
  const parsed = peers.map((p) => parseIp(p));

  monitor = new NetlinkMonitor({ netns: ns.path, routes: 'events' });
  await monitor.start();
  const batch = new RouteQueryBatch(peers.length);
  const packAndLookup = (from, to) => {
    batch.clear();
    for (let i = from; i < to; i++) batch.add(parsed[i].family, parsed[i].bytes);
    return monitor.lookupBatch(batch);
  };

  // Same answers from every routeguard path before anything is timed.
  const oneByOne = queries.map((q) => monitor.lookupRoute(q));
  if (!isDeepStrictEqual(monitor.lookupRoutes(queries), oneByOne)) throw new Error('lookupRoutes differs from lookupRoute');
  if (!isDeepStrictEqual(packAndLookup(0, peers.length), oneByOne)) throw new Error('lookupBatch differs from lookupRoute');
  const failed = oneByOne.filter((r) => !r.ok).length;
  if (failed > 0) throw new Error(`${failed} lookups failed: the namespace is not as built`);
  const ipOut = await ipBatch(ns, peers);
  const ipAnswers = ipOut.split('\n').filter((l) => /^\S/.test(l)).length;
  if (ipAnswers !== peers.length) throw new Error(`ip -batch printed ${ipAnswers} answers for ${peers.length} queries`);

  const contenders = [
    { name: '`lookupBatch` (packed, one call)', run: () => time(() => packAndLookup(0, peers.length)) },
    {
      name: `\`lookupBatch\`, bursts of ${BURST}`,
      run: () => time(() => {
        for (let i = 0; i < peers.length; i += BURST) packAndLookup(i, Math.min(peers.length, i + BURST));
      }),
    },
    { name: '`lookupRoutes` (strings, one call)', run: () => time(() => monitor.lookupRoutes(queries)) },
    { name: '`lookupRoute` one by one', run: () => time(() => queries.forEach((q) => monitor.lookupRoute(q))) },
    { name: '`ip -batch -` (`route get` lines, one process)', run: () => timeAsync(() => ipBatch(ns, peers)) },
    {
      name: `\`ip route get\` spawned per query (${SPAWNED} queries)`,
      count: SPAWNED,
      run: () => time(() => {
        for (let i = 0; i < SPAWNED; i++) execFileSync('ip', ['-n', ns.name, 'route', 'get', peers[i]]);
      }),
    },
  ];
  runLookupFloor(ns, RUNS, peers); // warm-up (and the build, when the source changed)
  const rows = [{ name: 'C floor (`sendmsg` + `recvmmsg`, nothing decoded)', us: runLookupFloor(ns, RUNS, peers) }];
  log(`${rows[0].name}: ${rows[0].us.toFixed(2)} µs per lookup`);
  for (const c of contenders) {
    const count = c.count ?? peers.length;
    await c.run(); // warm-up
    const samples = [];
    for (let r = 0; r < RUNS; r++) samples.push((await c.run()) / count);
    const perQueryMs = median(samples);
    rows.push({ name: c.name, us: perQueryMs * 1000 });
    log(`${c.name}: ${(perQueryMs * 1000).toFixed(2)} µs per lookup`);
  }
  const floor = rows[0].us;
  const byName = (prefix) => rows.find((r) => r.name.startsWith(prefix)).us;
  const batched = byName('`lookupBatch` (packed');
  const out = [
    `## Kernel route lookups: ${peers.length.toLocaleString('en-US')} queries, ${ROUTES.toLocaleString('en-US')} routes`,
    '',
    `Time per answered \`RTM_GETROUTE\` query, one query per route of a private namespace (3 IPv6 /64 for each`,
    `IPv4 /32), asked through a started monitor's lookup socket. Medians of ${RUNS} runs on`,
    `${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, Linux ${os.release()}.`,
    '',
    '| contender | vs C floor | per lookup |',
    '|---|--:|--:|',
    ...rows.map((r) => `| ${r.name} | ${(r.us / floor).toFixed(2)}× | ${r.us < 100 ? r.us.toFixed(2) : r.us.toFixed(0)} µs |`),
    '',
    `- Batched, a lookup costs ${batched.toFixed(2)} µs with the packing and the decoded result objects,`,
    `  ${(batched / floor).toFixed(1)}× the kernel's own ${floor.toFixed(2)} µs; one by one (\`lookupRoute\`) costs ${(byName('`lookupRoute` one') / batched).toFixed(1)}× a batched lookup.`,
    `- \`ip -batch -\` answering the same queries in one process: ${(byName('`ip -batch') / batched).toFixed(1)}× a batched lookup;`,
    `  spawning \`ip route get\` per query: ${(byName('`ip route get') / batched).toFixed(0)}×.`,
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');
} finally {
  monitor?.close();
  ns.remove();
}
