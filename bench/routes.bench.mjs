// Route-dump benchmark: how fast each contender turns the kernel's route dump into
// something a program can use, and what it costs in memory.
//
// Sets: /32 blackholes (no device) and a full-table-like mix (prefix lengths as in the
// Internet table, via gateways on a veth, proto bgp, metric 20), each at 100k and 1M
// routes, loaded with `ip -batch` into a private namespace (rgbench-<pid>) that is
// removed afterwards. Contenders, each in a fresh child process so its RSS is its own:
//
//   floor       bench/floor.c: RTM_GETROUTE dump (AF_UNSPEC, all tables) received into
//               a 1 MiB buffer and discarded. Nearly all kernel time.
//   ip -j       `ip -j -n NS route show table all > /dev/null`.
//   ip -j+JSON  Node: execFile that, JSON.parse the output (what users do today).
//   netlink     npm `netlink` package: createRtNetlink().getRoutes(), under `ip netns exec`.
//   routeguard  `new NetlinkMonitor({ netns })` to `await start()` (synced mirror), then a
//               full resync timed on its own.
//   cli         `routeguard dump --json --netns NS > /dev/null`, the whole command (process
//               start-up included, as for `ip -j`): sync, then the JSON streamed out.
//
// On the mix set, also `routeguard path` start-up: from spawning the CLI to its first
// verdict line, and its RSS then, in the loaded namespace and in one with no routes.
//
// Then "where routeguard's time goes": the dump saved by floor.c is replayed through the
// addon's parser + encoder alone (bench/encode.cc) and the records through the JS mirror
// alone (NetworkState.apply).
//
// RGBENCH_DIST=DIR / ROUTEGUARD_ADDON_DIR=DIR measure another build of the library / addon.
// Prints one markdown section on stdout; progress on stderr.
// Options: --quick (100k only), --sizes=100000,1000000, --sets=blackhole,mix,
//          --runs=N (default 5 for 100k, 3 for 1M), --contenders=floor,routeguard,...
import { execFileSync, execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BenchNamespace as Namespace } from './namespace.mjs';
import { mulberry32 } from '../test/helpers/seeded-random.mjs';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const FLOOR_SRC = path.join(HERE, 'floor.c');
const FLOOR_CACHE = path.join(ROOT, 'build', 'bench', 'floor');
const ENCODE_SRC = [path.join(HERE, 'encode.cc'), path.join(ROOT, 'native', 'netlink_parse.cc'), path.join(ROOT, 'native', 'record_encoder.cc')];
const ENCODE_CACHE = path.join(ROOT, 'build', 'bench', 'encode');
// The run uses private copies (see snapshot()): others may rebuild the tree meanwhile.
const bin = { floor: FLOOR_CACHE, encode: ENCODE_CACHE };
const SELF = fileURLToPath(import.meta.url);
const DIST = process.env.RGBENCH_DIST ? path.resolve(process.env.RGBENCH_DIST) : path.join(ROOT, 'dist');
const ADDON_DIR = process.env.ROUTEGUARD_ADDON_DIR || ROOT;

const VETH = 'rgb0';
const VETH_PEER = 'rgb1';
const LOCAL_GW_NET = '198.51.100';
const GATEWAYS = [2, 3, 4, 5, 6, 7, 8, 9].map((h) => `${LOCAL_GW_NET}.${h}`);
const METRIC = 20;

// ---------------------------------------------------------------------------------
// Children: one contender each. Print one JSON line on stdout.
// ---------------------------------------------------------------------------------

function argValue(name) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? undefined : a.slice(name.length + 3);
}

function vmHWMKiB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : null;
}

function settledRss() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  return process.memoryUsage().rss;
}

async function child(kind, netnsName) {
  const nsPath = `/run/netns/${netnsName}`;
  let result;
  let keep; // the contender's result, held while retained memory is measured
  // Libraries are loaded before the clock starts: start-up is not the dump.
  const usesLibrary = kind === 'routeguard' || kind === 'mirror';
  const lib = usesLibrary ? require(path.join(DIST, 'index.js')) : null;
  if (kind === 'routeguard') require('node-gyp-build')(ADDON_DIR); // the addon, as the library will load it
  const netlinkPackage = kind === 'netlink' ? require('netlink') : null;
  const { Worker } = await import('node:worker_threads');
  const rss0 = settledRss();
  const cpu0 = process.resourceUsage();
  const t0 = performance.now();
  if (kind === 'routeguard') {
    const { NetlinkMonitor } = lib;
    const monitor = new NetlinkMonitor({ netns: nsPath, confirmDelayMs: false });
    // Instrumentation: time spent in the JS mirror (NetworkState.apply), per batch.
    let applyMs = 0;
    let batches = 0;
    let batchBytes = 0;
    const apply = monitor.state.apply.bind(monitor.state);
    monitor.state.apply = (batch, time, hooks, byteLength = batch.byteLength) => {
      const a = performance.now();
      batches++;
      batchBytes += byteLength;
      apply(batch, time, hooks, byteLength);
      applyMs += performance.now() - a;
    };
    await monitor.start();
    const ms = performance.now() - t0;
    const stats = monitor.stats();
    result = {
      ms,
      routes: monitor.state.routeCount,
      routeTableBytes: stats.routeTableBytes,
      applyMs,
      batches,
      batchBytes,
      messages: stats.messages,
      dumpRetries: stats.dumpRetries,
    };
    keep = monitor;
  } else if (kind === 'ipjson') {
    const out = await new Promise((resolve, reject) => {
      execFile(
        'ip',
        ['-j', '-n', netnsName, 'route', 'show', 'table', 'all'],
        { encoding: 'utf8', maxBuffer: 2 ** 31 - 1 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
    const routes = JSON.parse(out);
    result = { ms: performance.now() - t0, routes: routes.length, jsonBytes: Buffer.byteLength(out) };
    keep = routes;
  } else if (kind === 'netlink') {
    // Runs under `ip netns exec NS`: the package has no namespace option.
    const { createRtNetlink } = netlinkPackage;
    const socket = createRtNetlink();
    const routes = await socket.getRoutes();
    result = { ms: performance.now() - t0, routes: routes.length };
    keep = { socket, routes };
  } else if (kind === 'mirror') {
    // Breakdown step: the JS mirror alone, replaying record batches saved by bench/encode.cc.
    const file = fs.readFileSync(argValue('records'));
    const batches = [];
    for (let o = 0; o < file.length; ) {
      const n = file.readUInt32LE(o);
      batches.push(file.buffer.slice(file.byteOffset + o + 4, file.byteOffset + o + 4 + n));
      o += 4 + n;
    }
    const state = new lib.NetworkState();
    const hooks = { emit() {}, silentChangesPossible() {}, overflow() {}, error() {} };
    const a = performance.now();
    const cpu = process.cpuUsage();
    for (const batch of batches) state.apply(batch, 0, hooks);
    const used = process.cpuUsage(cpu);
    result = { ms: performance.now() - a, cpuMs: (used.user + used.system) / 1000, routes: state.routeCount, routeTableBytes: state.routeTable.byteSize };
    process.stdout.write(JSON.stringify({ ...result, ok: true }) + '\n');
    return;
  } else {
    throw new Error(`unknown contender ${kind}`);
  }
  const cpu1 = process.resourceUsage();
  result.userMs = (cpu1.userCPUTime - cpu0.userCPUTime) / 1000;
  result.sysMs = (cpu1.systemCPUTime - cpu0.systemCPUTime) / 1000;
  result.maxRssKiB = vmHWMKiB();
  result.baseRssKiB = Math.round(rss0 / 1024);
  result.retainedBytes = settledRss() - rss0;
  if (kind === 'routeguard') {
    // A full re-dump (what an ENOBUFS overflow triggers) against the synced mirror:
    // every route is compared with its slot; nothing changed, so no events.
    const monitor = keep;
    const a = performance.now();
    const done = new Promise((resolve) => {
      const onEvent = (e) => {
        if (e.type !== 'resync') return;
        monitor.off('event', onEvent);
        resolve(e);
      };
      monitor.on('event', onEvent);
    });
    monitor.resync();
    const notice = await done;
    result.resyncMs = performance.now() - a;
    result.resyncChanges = notice.added + notice.changed + notice.removed;
    result.resyncMaxRssKiB = vmHWMKiB();
    monitor.close();
  }
  if (kind === 'netlink') keep.socket.socket.close();
  keep = null;
  result.ok = true;
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ---------------------------------------------------------------------------------
// Route sets
// ---------------------------------------------------------------------------------

// Prefix lengths of the IPv4 Internet table (per million, roughly the 2024 DFZ
// as reported by bgp.potaroo.net / CIDR report); /24 takes the rest (~62%).
const MIX_PER_MILLION = {
  8: 16, 9: 14, 10: 38, 11: 105, 12: 300, 13: 600, 14: 1100, 15: 1900, 16: 14000,
  17: 8500, 18: 14500, 19: 27000, 20: 44000, 21: 50000, 22: 118000, 23: 100000,
};

function excluded(a) {
  const o1 = a >>> 24;
  const o2 = (a >>> 16) & 0xff;
  return (
    o1 === 0 || o1 === 10 || o1 === 127 || o1 >= 224 ||
    o1 === 198 || // keeps the veth's 198.51.100.0/24 (and 198.18/15) clear
    (o1 === 100 && o2 >= 64 && o2 < 128) ||
    (o1 === 169 && o2 === 254) ||
    (o1 === 172 && o2 >= 16 && o2 < 32) ||
    (o1 === 192 && o2 === 168)
  );
}

function ipText(a) {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** `ip -batch` lines of the full-table mix, shuffled so that any prefix of the list has the mix. */
export function mixLines(total) {
  const rand = mulberry32(0x5eed1234);
  const out = [];
  let assigned = 0;
  const counts = {};
  for (const [len, perMillion] of Object.entries(MIX_PER_MILLION)) {
    counts[len] = Math.round((perMillion * total) / 1e6);
    assigned += counts[len];
  }
  counts[24] = total - assigned;
  for (const [lenText, count] of Object.entries(counts)) {
    const len = Number(lenText);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const seen = new Set();
    while (seen.size < count) {
      const a = (Math.floor(rand() * 4294967296) & mask) >>> 0;
      if (excluded(a) || seen.has(a)) continue;
      seen.add(a);
      const gw = GATEWAYS[Math.floor(rand() * GATEWAYS.length)];
      out.push(`route add ${ipText(a)}/${len} via ${gw} dev ${VETH} proto bgp metric ${METRIC}`);
    }
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** /32 blackholes in 10.0.0.0/8, in order. */
export function blackholeLines(total) {
  const out = new Array(total);
  for (let i = 0; i < total; i++) out[i] = `route add blackhole ${ipText((10 << 24) + i)}/32`;
  return out;
}

const SETS = {
  blackhole: { title: '/32 blackholes', lines: blackholeLines },
  mix: { title: 'full-table mix (most /24, via gateway on a veth, proto bgp, metric)', lines: mixLines },
};

// ---------------------------------------------------------------------------------
// Parent: namespace, loading, runs, table
// ---------------------------------------------------------------------------------

function log(...args) {
  process.stderr.write(`[routes.bench] ${args.join(' ')}\n`);
}

function ensureFloor() {
  const fresh =
    fs.existsSync(FLOOR_CACHE) && fs.statSync(FLOOR_CACHE).mtimeMs >= fs.statSync(FLOOR_SRC).mtimeMs;
  if (fresh) return;
  fs.mkdirSync(path.dirname(FLOOR_CACHE), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-o', FLOOR_CACHE, FLOOR_SRC], { stdio: 'inherit' });
}

/** The addon's parser + encoder without Node-API, for the breakdown (same flags as node-gyp's Release). */
function ensureEncode() {
  const deps = [...ENCODE_SRC, ...fs.readdirSync(path.join(ROOT, 'native')).filter((f) => f.endsWith('.h')).map((f) => path.join(ROOT, 'native', f))];
  const newest = Math.max(...deps.map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(ENCODE_CACHE) && fs.statSync(ENCODE_CACHE).mtimeMs >= newest) return true;
  fs.mkdirSync(path.dirname(ENCODE_CACHE), { recursive: true });
  try {
    execFileSync('c++', ['-O3', '-std=c++17', '-fno-omit-frame-pointer', '-fno-rtti', '-fexceptions', `-I${path.join(ROOT, 'native')}`, '-o', ENCODE_CACHE, ...ENCODE_SRC], { stdio: ['ignore', 'ignore', 'inherit'] });
    return true;
  } catch {
    log('cannot build bench/encode.cc: the breakdown is skipped');
    return false;
  }
}

/** Where routeguard's time goes: the dump saved once, then each stage replayed alone. */
async function breakdown(ns, runs) {
  const dumpFile = path.join(os.tmpdir(), `${ns.name}.dump`);
  const recordsFile = path.join(os.tmpdir(), `${ns.name}.records`);
  try {
    const saved = await runChild(bin.floor, ['dump', ns.path, dumpFile], 120_000);
    if (!saved.ok) return { error: saved.error };
    const native = await runChild(bin.encode, [dumpFile, recordsFile], 300_000);
    if (!native.ok) return { error: native.error };
    fs.rmSync(dumpFile, { force: true });
    const mirror = [];
    for (let r = 0; r < runs; r++) {
      mirror.push(await runChild(process.execPath, ['--expose-gc', SELF, '--child=mirror', `--records=${recordsFile}`], 300_000));
    }
    const ok = mirror.filter((m) => m.ok);
    if (ok.length === 0) return { error: mirror[0].error };
    return { ...native, applyMs: median(ok.map((m) => m.ms)), applyCpuMs: median(ok.map((m) => m.cpuMs)), mirrorRoutes: ok[0].routes };
  } finally {
    fs.rmSync(dumpFile, { force: true });
    fs.rmSync(recordsFile, { force: true });
  }
}

/**
 * Private copies for the whole run: the helper binaries, dist/ and the addon as they are now.
 * Others working in the tree may run tsc or node-gyp rebuild (which wipes build/) meanwhile.
 */
function snapshot(dir, withEncode) {
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  bin.floor = path.join(dir, 'floor');
  // The CLI as installed: bin/routeguard.js next to the snapshot's dist/.
  fs.mkdirSync(path.join(dir, 'bin'));
  bin.cli = path.join(dir, 'bin', 'routeguard.js');
  fs.copyFileSync(path.join(ROOT, 'bin', 'routeguard.js'), bin.cli);
  fs.copyFileSync(FLOOR_CACHE, bin.floor);
  fs.chmodSync(bin.floor, 0o755);
  if (withEncode) {
    bin.encode = path.join(dir, 'encode');
    fs.copyFileSync(ENCODE_CACHE, bin.encode);
    fs.chmodSync(bin.encode, 0o755);
  }
  if (!process.env.RGBENCH_DIST) {
    fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    process.env.RGBENCH_DIST = path.join(dir, 'dist');
  }
  if (!process.env.ROUTEGUARD_ADDON_DIR) {
    const addon = path.join(dir, 'addon');
    fs.mkdirSync(path.join(addon, 'build', 'Release'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(addon, 'package.json'));
    fs.copyFileSync(require('node-gyp-build').path(ROOT), path.join(addon, 'build', 'Release', 'routeguard.node'));
    process.env.ROUTEGUARD_ADDON_DIR = addon; // the library's loader honours it
  }
}


const running = new Set(); // children to stop if we are interrupted

/**
 * `routeguard path` start-up, as a user sees it: from spawning the CLI to its first
 * verdict line on stdout, and the CLI's RSS at that moment (VmRSS; its peak is VmHWM).
 */
function pathStart(nsPath, to) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, [bin.cli, 'path', '--to', to, '--netns', nsPath, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let err = '';
    let result = null;
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.stdout.once('data', () => {
      const ms = performance.now() - t0;
      const status = fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
      result = { ok: true, ms, rssKiB: kib('VmRSS'), maxRssKiB: kib('VmHWM') };
      proc.kill('SIGTERM');
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      running.delete(proc);
      resolve(result ?? { ok: false, error: err.trim().split('\n').pop() || 'no output' });
    });
  });
}

function runChild(command, args, timeoutMs) {
  return new Promise((resolve) => {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    proc.on('exit', () => running.delete(proc));
    proc.on('error', (err) => resolve({ ok: false, error: `${command}: ${err.message}` })); // e.g. ENOENT
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() || '';
      try {
        const r = JSON.parse(last);
        if (r.ok) return resolve(r);
        return resolve({ ok: false, error: r.error || `exit ${code}` });
      } catch {
        const lines = err.trim().split('\n').map((l) => l.trim()).filter(Boolean);
        const why = lines.find((l) => /^\w*Error\b/.test(l)) || lines.pop() || `exit ${code} ${signal ?? ''}`;
        resolve({ ok: false, error: why.replace(/\|/g, '/').slice(0, 200) });
      }
    });
  });
}

const CONTENDERS = [
  { id: 'floor', label: 'C floor: recv + discard (bench/floor.c)' },
  { id: 'ip', label: '`ip -j route show table all > /dev/null`' },
  { id: 'ipjson', label: '`ip -j` + `JSON.parse` in Node' },
  { id: 'netlink', label: 'npm `netlink` 0.3 `getRoutes()`' },
  { id: 'routeguard', label: '**routeguard** `NetlinkMonitor` synced mirror' },
  { id: 'cli', label: '`routeguard dump --json > /dev/null` (whole command, like `ip -j`)' },
];

function runContender(id, ns, timeoutMs) {
  const nodeArgs = ['--expose-gc', SELF, `--child=${id}`, `--netns=${ns.name}`];
  switch (id) {
    case 'floor':
      return runChild(bin.floor, ['dump', ns.path], timeoutMs);
    case 'ip':
      return runChild(bin.floor, ['exec', '--', 'ip', '-j', '-n', ns.name, 'route', 'show', 'table', 'all'], timeoutMs);
    case 'cli':
      return runChild(bin.floor, ['exec', '--', process.execPath, bin.cli, 'dump', '--json', '--netns', ns.path], timeoutMs);
    case 'netlink':
      return runChild('ip', ['netns', 'exec', ns.name, process.execPath, ...nodeArgs], timeoutMs);
    default:
      return runChild(process.execPath, nodeArgs, timeoutMs);
  }
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const fmt = {
  ms: (ms) => (ms == null ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`),
  rate: (n, ms) => (ms == null ? '–' : `${((n / ms) * 1000 / 1e6).toFixed(2)} M/s`),
  ratio: (ms, floor) => (ms == null || floor == null ? '–' : `${(ms / floor).toFixed(2)}×`),
  mb: (kib) => (kib == null ? '–' : `${(kib / 1024).toFixed(0)} MB`),
  count: (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n)),
};

function parseArgs(argv) {
  const opts = { quick: false, sizes: [100_000, 1_000_000], sets: ['blackhole', 'mix'], runs: null, contenders: null };
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, '').split('=');
    if (k === 'quick') opts.quick = true;
    else if (k === 'sizes') opts.sizes = v.split(',').map(Number);
    else if (k === 'sets') opts.sets = v.split(',');
    else if (k === 'runs') opts.runs = Number(v);
    else if (k === 'contenders') opts.contenders = v.split(',');
    else if (k === 'child' || k === 'netns' || k === 'records' || k === 'write') continue;
    else log(`ignoring option ${a} (meant for another bench?)`);
  }
  if (opts.quick) opts.sizes = opts.sizes.filter((s) => s <= 100_000);
  opts.sizes.sort((a, b) => a - b);
  return opts;
}

async function measureSet(setId, opts, ns) {
  const set = SETS[setId];
  const maxSize = opts.sizes[opts.sizes.length - 1];
  log(`${setId}: generating ${maxSize} routes`);
  const lines = set.lines(maxSize);
  ns.create();
  // For `routeguard path`: the same namespace without the routes.
  const empty = new Namespace(`${ns.name}-empty`);
  if (setId === 'mix') {
    empty.create();
    for (const n of [ns, empty]) {
      // No DAD: the veth's IPv6 link-local routes appear at once instead of mid-run.
      execFileSync('ip', ['netns', 'exec', n.name, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      n.ip(`link add ${VETH} type veth peer name ${VETH_PEER}`);
      n.ip(`addr add ${LOCAL_GW_NET}.1/24 dev ${VETH}`);
      n.ip(`link set ${VETH} up`);
      n.ip(`link set ${VETH_PEER} up`);
    }
  }
  const contenders = CONTENDERS.filter((c) => !opts.contenders || opts.contenders.includes(c.id));
  const results = [];
  let loaded = 0;
  for (const size of opts.sizes) {
    const t = performance.now();
    ns.batch(lines.slice(loaded, size));
    loaded = size;
    log(`${setId} ${fmt.count(size)}: loaded in ${fmt.ms(performance.now() - t)}`);
    // The kernel's own count (stable: nothing else changes in the namespace), and a warm-up.
    let kernel;
    for (let tries = 0; ; tries++) {
      kernel = await runContender('floor', ns, 60_000);
      if (!kernel.ok) throw new Error(`floor dump failed: ${kernel.error}`);
      const again = await runContender('floor', ns, 60_000);
      if (again.routes === kernel.routes) break;
      if (tries === 10) throw new Error(`the namespace's route count does not settle (${kernel.routes}, ${again.routes})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const runs = opts.runs ?? (size >= 1_000_000 ? 3 : 5);
    const timeoutMs = Math.max(60_000, size * 0.2);
    const samples = Object.fromEntries(contenders.map((c) => [c.id, []]));
    for (let r = 0; r < runs; r++) {
      for (const c of contenders) {
        const res = await runContender(c.id, ns, timeoutMs);
        samples[c.id].push(res);
        log(`${setId} ${fmt.count(size)} run ${r + 1}/${runs} ${c.id}: ${res.ok ? `${fmt.ms(res.ms)}, ${fmt.mb(res.maxRssKiB)}` : `FAILED ${res.error}`}`);
      }
    }
    let pathRuns = null;
    if (setId === 'mix' && (!opts.contenders || opts.contenders.includes('path'))) {
      pathRuns = { loaded: [], empty: [] };
      for (let r = 0; r < runs; r++) {
        pathRuns.loaded.push(await pathStart(ns.path, GATEWAYS[0]));
        pathRuns.empty.push(await pathStart(empty.path, GATEWAYS[0]));
        log(`${setId} ${fmt.count(size)} run ${r + 1}/${runs} path: ${fmt.ms(pathRuns.loaded[r].ms)} (empty ${fmt.ms(pathRuns.empty[r].ms)})`);
      }
    }
    const parts = opts.breakdown && samples.routeguard ? await breakdown(ns, runs) : null;
    if (parts) log(`${setId} ${fmt.count(size)} breakdown: ${JSON.stringify(parts)}`);
    results.push({ size, kernel, samples, runs, parts, pathRuns });
  }
  ns.remove();
  empty.remove();
  return { setId, title: set.title, results, contenders };
}

function sectionMarkdown(measured) {
  const lines = [];
  for (const { title, results, contenders } of measured) {
    for (const { size, kernel, samples, runs, parts, pathRuns } of results) {
      const floorMs = median(samples.floor?.filter((s) => s.ok).map((s) => s.ms) ?? []);
      lines.push(`### ${fmt.count(size)} routes — ${title}`, '');
      lines.push(
        `Kernel: ${kernel.routes} routes in the dump (${kernel.routes4} IPv4; the rest are the namespace's own IPv6/local routes), ` +
          `${(kernel.bytes / 1e6).toFixed(1)} MB of netlink messages. Median of ${runs} run${runs === 1 ? "" : "s"}, each in a fresh process.`,
        '',
      );
      lines.push('| contender | routes seen | time | routes/s | × floor | peak RSS | retained (bytes/route) | CPU user + sys |');
      lines.push('|---|--:|--:|--:|--:|--:|--:|--:|');
      const notes = [];
      for (const c of contenders) {
        const ok = samples[c.id].filter((s) => s.ok);
        if (ok.length === 0) {
          lines.push(`| ${c.label} | failed: ${samples[c.id][0]?.error ?? '?'} | | | | | | |`);
          continue;
        }
        const ms = median(ok.map((s) => s.ms));
        const seen = median(ok.map((s) => s.routes));
        const expected = c.id === 'ip' ? null : kernel.routes;
        const seenText = seen == null ? '(not counted)' : `${seen}${expected != null && seen !== expected ? ` ≠ ${expected} ⚠` : ''}`;
        const retained = median(ok.map((s) => s.retainedBytes));
        const user = median(ok.map((s) => s.userMs));
        const sys = median(ok.map((s) => s.sysMs));
        lines.push(
          `| ${c.label} | ${seenText} | ${fmt.ms(ms)} | ${fmt.rate(kernel.routes, ms)} | ${fmt.ratio(ms, floorMs)} | ` +
            `${fmt.mb(median(ok.map((s) => s.maxRssKiB)))} | ${retained == null ? '–' : `${(retained / 2 ** 20).toFixed(0)} MB (${Math.round(retained / kernel.routes)})`} | ` +
            `${fmt.ms(user)} + ${fmt.ms(sys)} |`,
        );
        if (ok.length < samples[c.id].length) notes.push(`${c.id}: ${samples[c.id].length - ok.length} of ${samples[c.id].length} runs failed (${samples[c.id].find((s) => !s.ok).error}).`);
        if (c.id === 'routeguard' && parts) {
          if (parts.error) notes.push(`breakdown failed: ${parts.error}`);
          else {
            const sum = floorMs + parts.encodeMs + parts.applyMs;
            notes.push(
              `**Where routeguard's time goes** (each stage replayed alone on the same dump): kernel dump (the floor) ${fmt.ms(floorMs)} ` +
                `+ addon parse ${fmt.ms(parts.parseMs)} and record encoding ${fmt.ms(parts.encodeMs - parts.parseMs)} ` +
                `(bench/encode.cc: the addon's parser and encoder, no Node-API, each batch's memory reused at once; ${parts.batches} batches, ${(parts.recordBytes / 1e6).toFixed(0)} MB of records) ` +
                `+ JS mirror \`NetworkState.apply\` ${fmt.ms(parts.applyMs)} (replayed batches; ${fmt.ms(parts.applyCpuMs)} of CPU) = ${fmt.ms(sum)} if run one after the other; ` +
                `measured ${fmt.ms(ms)}: the addon reads the dump on its own thread while JS applies the previous batch, so the kernel's time and the mirror's overlap when a second core is free.`,
            );
          }
        }
        if (c.id === 'routeguard') {
          notes.push(
            `routeguard detail: JS mirror (NetworkState.apply) ${fmt.ms(median(ok.map((s) => s.applyMs)))} of the ${fmt.ms(ms)}; ` +
              `${median(ok.map((s) => s.batches))} batches (${(median(ok.map((s) => s.batchBytes)) / 1e6).toFixed(1)} MB of records); ` +
              `route table ${Math.round(median(ok.map((s) => s.routeTableBytes)) / kernel.routes)} bytes/route (slots + index). ` +
              `A full resync (re-dump compared with the synced mirror, as after ENOBUFS) takes ${fmt.ms(median(ok.map((s) => s.resyncMs)))} ` +
              `(${median(ok.map((s) => s.resyncChanges))} differences reported; peak RSS then ${fmt.mb(median(ok.map((s) => s.resyncMaxRssKiB)))}).`,
          );
        }
        if (c.id === 'ipjson') notes.push(`ip -j output: ${(median(ok.map((s) => s.jsonBytes)) / 1e6).toFixed(1)} MB of JSON.`);
        if (c.id === 'cli') {
          const ip = samples.ip?.filter((s) => s.ok) ?? [];
          if (ip.length) notes.push(`\`routeguard dump --json\` / \`ip -j route show table all\`: ${(ms / median(ip.map((s) => s.ms))).toFixed(2)}× the time (routeguard also prints links, addresses, IPv6 routes, rules and neighbours; \`ip route\` prints IPv4 routes only).`);
        }
      }
      if (pathRuns) {
        const ok = (list) => list.filter((s) => s.ok);
        const [l, e] = [ok(pathRuns.loaded), ok(pathRuns.empty)];
        if (l.length && e.length) {
          const dms = median(l.map((s) => s.ms)) - median(e.map((s) => s.ms));
          const dmb = (median(l.map((s) => s.rssKiB)) - median(e.map((s) => s.rssKiB))) / 1024;
          notes.push(
            `\`routeguard path --to ${GATEWAYS[0]}\` (routes: 'events', no route table) until its first verdict line: ` +
              `${dms >= 0 ? '+' : '-'}${fmt.ms(Math.abs(dms))} and ${dmb >= 0 ? '+' : ''}${dmb.toFixed(1)} MB RSS over the same namespace without the routes ` +
              `(${fmt.ms(median(l.map((s) => s.ms)))}, ${fmt.mb(median(l.map((s) => s.rssKiB)))} against ${fmt.ms(median(e.map((s) => s.ms)))}, ${fmt.mb(median(e.map((s) => s.rssKiB)))}; process start-up included).`,
          );
        } else notes.push(`routeguard path failed: ${(pathRuns.loaded.find((s) => !s.ok) ?? pathRuns.empty.find((s) => !s.ok))?.error}`);
      }
      lines.push('');
      for (const n of notes) lines.push(`- ${n}`);
      lines.push('');
    }
  }
  return lines.join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stdout.write('## Route dump\n\nSkipped: needs root (network namespaces).\n');
    return;
  }
  ensureFloor();
  opts.breakdown = ensureEncode();
  const ns = new Namespace(`rgbench-${process.pid}`);
  const cleanup = () => {
    ns.remove();
    for (const f of fs.readdirSync(os.tmpdir())) {
      if (f.startsWith(`${ns.name}.`)) fs.rmSync(path.join(os.tmpdir(), f), { recursive: true, force: true });
    }
  };
  process.once('exit', cleanup); // also when something throws past the finally below
  snapshot(path.join(os.tmpdir(), `${ns.name}.snapshot`), opts.breakdown);
  const onSignal = (sig) => {
    for (const proc of running) proc.kill('SIGKILL');
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = performance.now();
  const loadStart = os.loadavg()[0];
  const measured = [];
  try {
    for (const setId of opts.sets) measured.push(await measureSet(setId, opts, ns));
  } finally {
    cleanup();
  }
  const header = [
    '## Route dump: kernel → usable route table',
    '',
    'Each contender dumps every route of every table from a private namespace (`ip netns add rgbench-PID`), ' +
      'loaded with `ip -batch`. Time is measured inside each fresh child process from just before it opens its ' +
      'socket (or spawns `ip`) until the routes are usable (process start-up excluded). Peak RSS is the child\'s ' +
      'VmHWM (for `ip` alone, its wait4 maxrss); retained bytes/route is the RSS growth, after GC, while the ' +
      'contender still holds its result. × floor = time / the C floor\'s time.',
    '',
    `Run took ${((performance.now() - started) / 60000).toFixed(1)} min (route loading included). ` +
      `1-minute load average ${loadStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end ` +
      `(${os.cpus().length} CPUs; other work on the machine inflates wall times, CPU times less so).`,
    '',
    '',
  ];
  process.stdout.write(header.join('\n') + sectionMarkdown(measured) + '\n');
}

const childArg = process.argv.find((a) => a.startsWith('--child='));
const direct = process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url;
if (!direct) {
  // imported (tools reuse the route sets)
} else if (childArg) {
  child(childArg.slice('--child='.length), argValue('netns')).catch((err) => {
    process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack || err).split('\n')[0].replace(/\|/g, '/') }) + '\n');
    process.exitCode = 1;
  });
} else {
  main().catch((err) => {
    process.stderr.write(`routes.bench failed: ${err?.stack || err}\n`);
    process.exitCode = 1;
  });
}
