#!/usr/bin/env node
/**
 * Soak: opens, starts and closes NetlinkMonitors over and over, then starts monitors in
 * worker threads and terminates the workers with the monitors open. Reports the RSS
 * slope (least squares over samples taken after a GC, warm-up excluded) and the open
 * descriptors, which must come back to where they started.
 *
 *   node scripts/soak-monitor.mjs [--cycles 10000] [--workers 200] [--json]
 *   node scripts/soak-monitor.mjs --asan [...]   the same under the ASan/UBSan build
 *                                                (npm run build:asan first), with leak
 *                                                detection, reporting leaks in the addon's frames
 *
 * Runs as root: it watches a namespace of its own (rgsoak-PID), removed at the end.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const cycles = option('cycles', 10_000);
const workers = option('workers', 200);
const json = args.includes('--json');
// About 40 samples per phase; the first fifth (warm-up: JIT, allocator arenas) is left out.
const cycleEvery = Math.max(25, Math.floor(cycles / 40));
const workerEvery = Math.max(2, Math.floor(workers / 40));
const afterWarmup = (samples) => samples.slice(Math.floor(samples.length / 5));

if (args.includes('--asan')) {
  await runUnderAsan();
} else {
  await soak();
}

async function soak() {
  if (typeof globalThis.gc !== 'function') {
    // Re-run with --expose-gc: samples are taken after a full collection.
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], { stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));
    return;
  }
  const { NetlinkMonitor } = createRequire(import.meta.url)(path.join(root, 'dist'));
  const ns = `rgsoak-${process.pid}`;
  const ip = (...a) => execFileSync('ip', ['-n', ns, ...a], { stdio: 'pipe', env: toolEnv() });
  execFileSync('ip', ['netns', 'add', ns], { env: toolEnv() });
  try {
    ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('link', 'set', 'v0', 'up');
    ip('addr', 'add', '192.0.2.1/24', 'dev', 'v0');
    ip('-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'v0', 'nodad');
    const netns = `/run/netns/${ns}`;

    // Phase 1: open/start/close cycles.
    const cycleSamples = [];
    const heapSamples = [];
    const fdsBefore = openFds();
    const t0 = Date.now();
    for (let i = 1; i <= cycles; i++) {
      const m = new NetlinkMonitor({ netns });
      await m.start();
      m.lookupRoute({ to: '192.0.2.9' });
      m.close();
      if (i % cycleEvery === 0) {
        await settle();
        cycleSamples.push([i, rssKiB()]);
        heapSamples.push([i, process.memoryUsage().heapUsed / 1024]);
      }
    }
    const cycleMs = Date.now() - t0;
    await settle();
    const fdsAfterCycles = openFds();

    // Phase 2: workers terminated with a started monitor (and its event stream) open.
    const workerSamples = [];
    const workerCode = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { NetlinkMonitor } = require(workerData.dist);
      const m = new NetlinkMonitor({ netns: workerData.netns });
      m.on('event', () => {});
      m.start().then(() => parentPort.postMessage('ready'));
    `;
    for (let i = 1; i <= workers; i++) {
      const w = new Worker(workerCode, { eval: true, workerData: { dist: path.join(root, 'dist'), netns } });
      await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      if (i % 2) ip('addr', 'add', `192.0.2.${10 + (i % 200)}/32`, 'dev', 'v0'); // an event in flight
      await w.terminate();
      if (i % 2) ip('addr', 'del', `192.0.2.${10 + (i % 200)}/32`, 'dev', 'v0');
      if (i % workerEvery === 0) {
        await settle();
        workerSamples.push([i, rssKiB()]);
      }
    }
    await settle();
    const fdsAfterWorkers = openFds();

    const summary = {
      cycles,
      cycleMs,
      cycleRssSlopeKiBPer1000: round(slope(afterWarmup(cycleSamples)) * 1000),
      cycleRssMiB: cycleSamples.map(([, kib]) => round(kib / 1024)),
      // RSS jumps between two levels as V8 grows and shrinks its young generation; the floor
      // (the minimum of each 5 samples) shows what stays.
      cycleRssFloorSlopeKiBPer1000: round(slope(floor(afterWarmup(cycleSamples))) * 1000),
      cycleHeapSlopeKiBPer1000: round(slope(afterWarmup(heapSamples)) * 1000),
      workers,
      workerRssSlopeKiBPer100: round(slope(afterWarmup(workerSamples)) * 100),
      workerRssFloorSlopeKiBPer100: round(slope(floor(afterWarmup(workerSamples))) * 100),
      workerRssMiB: workerSamples.map(([, kib]) => round(kib / 1024)),
      fds: { before: fdsBefore, afterCycles: fdsAfterCycles, afterWorkers: fdsAfterWorkers },
    };
    if (json) {
      console.log(JSON.stringify(summary));
    } else {
      console.log(`${cycles} open/start/lookup/close cycles in ${(cycleMs / 1000).toFixed(1)} s: ` +
        `RSS slope ${summary.cycleRssSlopeKiBPer1000} KiB per 1000 cycles (floor ${summary.cycleRssFloorSlopeKiBPer1000}; RSS ${summary.cycleRssMiB[0]} -> ${summary.cycleRssMiB.at(-1)} MiB; JS heap slope ${summary.cycleHeapSlopeKiBPer1000} KiB per 1000)`);
      console.log(`${workers} workers terminated with a started monitor: RSS slope ${summary.workerRssSlopeKiBPer100} KiB per 100 workers (floor ${summary.workerRssFloorSlopeKiBPer100}) ` +
        `(RSS ${summary.workerRssMiB[0]} -> ${summary.workerRssMiB.at(-1)} MiB)`);
      console.log(`open descriptors: ${fdsBefore} before, ${fdsAfterCycles} after the cycles, ${fdsAfterWorkers} after the workers`);
    }
    if (fdsAfterCycles !== fdsBefore || fdsAfterWorkers !== fdsBefore) process.exitCode = 1;
  } finally {
    execFileSync('ip', ['netns', 'del', ns], { env: toolEnv() });
  }
}

/** The soak again in a child under the sanitizer build, leak detection on. */
async function runUnderAsan() {
  const lib = (name) => execFileSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
  const rest = args.filter((a) => a !== '--asan');
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...rest], {
    env: {
      ...process.env,
      ROUTEGUARD_ADDON_DIR: path.join(root, 'build-asan'),
      LD_PRELOAD: `${lib('libasan.so')}:${lib('libubsan.so')}`,
      // Node itself keeps allocations alive at exit that LSan calls leaks; only leaks with
      // one of the addon's frames in their stack are ours.
      ASAN_OPTIONS: 'detect_leaks=1:exitcode=0',
      LSAN_OPTIONS: 'report_objects=0',
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => child.on('exit', r));
  const leaks = [...stderr.matchAll(/(?:Direct|Indirect) leak of [\s\S]*?(?=\n\n|$)/g)].map((m) => m[0]);
  const ours = leaks.filter((block) => /routeguard\.node|native\/\w+\.(cc|h)/.test(block));
  const sanitizerErrors = (stderr.match(/ERROR: AddressSanitizer|runtime error:/g) ?? []).length;
  console.log(`ASan/UBSan: ${sanitizerErrors} errors; LSan: ${leaks.length} leak reports at exit, ${ours.length} with an addon frame`);
  for (const block of ours) console.log(block);
  if (code !== 0 || sanitizerErrors > 0 || ours.length > 0) process.exitCode = 1;
}

function toolEnv() {
  const { LD_PRELOAD: _drop, ...env } = process.env;
  return env;
}

async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
}

function rssKiB() {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
}

function openFds() {
  return readdirSync('/proc/self/fd').length;
}

/** The minimum of each run of 5 samples, at the run's last x. */
function floor(samples) {
  const out = [];
  for (let i = 0; i + 5 <= samples.length; i += 5) {
    const run = samples.slice(i, i + 5);
    out.push([run[4][0], Math.min(...run.map(([, y]) => y))]);
  }
  return out;
}

/** Least-squares slope of [x, y] samples. */
function slope(samples) {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((s, [x]) => s + x, 0) / n;
  const my = samples.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of samples) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

function round(v) {
  return Math.round(v * 10) / 10;
}
