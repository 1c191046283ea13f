/**
 * Dumps read on the monitor's reader thread (native/dump_pipeline.h): a dump of many
 * batches arrives whole, framed and in socket order with events from mid-dump; close()
 * and worker.terminate() in the middle of a dump join the thread cleanly; the reused
 * batch buffer and the routes-less dump option; a notification over 64 KiB that
 * arrives in the middle of a dump (read without a sizing peek) arrives whole.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NativeBinding, NativeMonitor } from '../../src/native/binding-types';
import { decodeBatch, type DecodedRecord } from '../../src/netlink/decode';
import { runNode } from '../helpers/child';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

const repoRoot = path.resolve(__dirname, '..', '..');
const addMultipathRoute = path.join(repoRoot, 'test/fixtures/scripts/add-multipath-route.py');
const addonDir = path.resolve(repoRoot, process.env.ROUTEGUARD_ADDON_DIR || '.');
const requireHere = createRequire(__filename);
const nodeGypBuild = requireHere.resolve('node-gyp-build');
const binding = requireHere('node-gyp-build')(addonDir) as NativeBinding;

/** 60k /32 blackholes: ~7.7 MB of records, two batches at least (4 MiB each). */
const ROUTES = 60_000;

const controlText = (r: DecodedRecord) =>
  `${r.kind}:${'object' in r ? r.object : ''}:${'reason' in r ? r.reason : ''}`;

describeNetns('addon: dumps on the reader thread', () => {
  let ns: NetNs;
  const monitors: NativeMonitor[] = [];

  beforeAll(() => {
    ns = createNetns('rgdump');
    createVeth(ns, 'v0', null, 'v1');
    const lines: string[] = [];
    for (let i = 0; i < ROUTES; i++) lines.push(`route add blackhole 10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}/32`);
    ns.ipBatch(lines);
  }, 120_000);

  afterAll(() => {
    for (const m of monitors) m.close();
    ns.destroy();
  });

  it('delivers a dump of several batches whole and framed, with an event from mid-dump exactly once', async () => {
    const records: DecodedRecord[] = [];
    let batches = 0;
    let poked = false;
    const m = new binding.Monitor({ netns: ns.path, reuseBatchBuffer: true }, (batch, byteLength) => {
      batches++;
      records.push(...decodeBatch(batch.slice(0, byteLength)));
      if (!poked) {
        // The loop is busy here while the reader keeps reading: this event is queued among the dump's replies.
        poked = true;
        ns.ip('addr add 198.51.100.77/24 dev v0');
      }
    });
    monitors.push(m);
    m.start();
    await waitFor(() => records.some((r) => r.kind === 'synced'), 20_000, 'initial sync');
    // Wait for this address's event, not any address event: v0's IPv6 link-local address
    // sends its own RTM_NEWADDR when DAD ends, which may come first (seen under ASan in CI).
    const poke = (r: DecodedRecord) => r.kind === 'address' && !r.fromDump && r.address.address === '198.51.100.77';
    await waitFor(() => records.some(poke), 5000, 'the address event');
    expect(batches).toBeGreaterThan(2);
    const blackholes = records.filter((r) => r.kind === 'route' && r.fromDump && r.route.type === 'blackhole');
    expect(blackholes).toHaveLength(ROUTES);
    expect(records.filter(poke)).toHaveLength(1);
    const controls = records.filter((r) => r.kind.startsWith('dump') || r.kind === 'synced').map(controlText);
    expect(controls).toEqual([
      ...['link', 'address', 'route', 'nexthop', 'rule', 'neighbour'].flatMap((o) => [`dump-begin:${o}:initial`, `dump-end:${o}:`]),
      'synced::initial',
    ]);
    // Every dumped route lies between the route frame's begin and end (the address's own
    // local and prefix routes are events, and may come after it).
    const begin = records.findIndex((r) => controlText(r) === 'dump-begin:route:initial');
    const end = records.findIndex((r) => controlText(r) === 'dump-end:route:');
    const dumped = (list: DecodedRecord[]) => list.filter((r) => r.kind === 'route' && r.fromDump).length;
    expect(dumped(records.slice(begin, end))).toBe(dumped(records));
    expect(m.stats().batches).toBe(batches);
    ns.ip('addr del 198.51.100.77/24 dev v0');
    m.close();
  });

  it('resync() from inside onBatch mid-dump queues a full pass behind the running one', async () => {
    const records: DecodedRecord[] = [];
    const m: NativeMonitor = new binding.Monitor({ netns: ns.path }, (batch) => {
      const first = records.length === 0;
      records.push(...decodeBatch(batch));
      if (first) m.resync();
    });
    monitors.push(m);
    m.start();
    await waitFor(() => records.some((r) => r.kind === 'synced' && r.reason === 'resync'), 30_000, 'resync');
    const routes = (reason: string) => {
      const begin = records.findIndex((r) => controlText(r) === `dump-begin:route:${reason}`);
      const end = records.findIndex((r, i) => i > begin && controlText(r) === 'dump-end:route:');
      return records.slice(begin, end).filter((r) => r.kind === 'route' && r.route.type === 'blackhole').length;
    };
    expect(routes('initial')).toBe(ROUTES);
    expect(routes('resync')).toBe(ROUTES);
    m.close();
  });

  it('dumpRoutes: false leaves the routes out of the sequence', async () => {
    const records: DecodedRecord[] = [];
    const m = new binding.Monitor({ netns: ns.path, dumpRoutes: false }, (batch) => records.push(...decodeBatch(batch)));
    monitors.push(m);
    m.start();
    await waitFor(() => records.some((r) => r.kind === 'synced'), 5000, 'initial sync');
    // Only the dump is without routes: a live route event (the kernel adding v0's IPv6
    // local route once DAD ends) may still arrive in the meantime.
    expect(records.filter((r) => r.kind === 'route' && r.fromDump)).toHaveLength(0);
    expect(records.filter((r) => r.kind.startsWith('dump')).map(controlText)).toEqual(
      ['link', 'address', 'nexthop', 'rule', 'neighbour'].flatMap((o) => [`dump-begin:${o}:initial`, `dump-end:${o}:`]),
    );
    m.close();
  });

  it('close() mid-dump joins the reader: nothing is delivered after it and the process exits', async () => {
    const result = await runNode(
      `const binding = require(${JSON.stringify(nodeGypBuild)})(${JSON.stringify(addonDir)});
      let after = 0, closed = false, batches = 0;
      const inside = new binding.Monitor({ netns: process.env.NS }, () => { batches++; if (closed) after++; });
      inside.start();
      const timer = setInterval(() => {
        if (batches === 0) return;
        clearInterval(timer);
        closed = true;
        inside.close();
        // A second monitor closed from inside its own first batch.
        const self = new binding.Monitor({ netns: process.env.NS }, () => { self.close(); batches++; });
        self.start();
        // stats() stays readable after close().
        setTimeout(() => console.log('after', after, 'stats', inside.stats().batches > 0), 300);
      }, 1);`,
      { env: { NS: ns.path }, timeoutMs: 30_000 },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, signal: null, timedOut: false });
    expect(result.stdout.trim()).toBe('after 0 stats true');
  });

  it('worker.terminate() in the middle of a dump does not crash', async () => {
    const result = await runNode(
      `const { Worker } = require('worker_threads');
      const code = \`
        const { parentPort, workerData } = require('worker_threads');
        const binding = require(workerData.ngb)(workerData.dir);
        const m = new binding.Monitor({ netns: workerData.ns }, (batch) => parentPort.postMessage(batch.byteLength));
        m.start();
      \`;
      (async () => {
        for (let round = 0; round < 5; round++) {
          const w = new Worker(code, { eval: true, workerData: { ngb: ${JSON.stringify(nodeGypBuild)}, dir: ${JSON.stringify(addonDir)}, ns: process.env.NS } });
          await new Promise((resolve) => w.once('message', resolve));
          await new Promise((r) => setTimeout(r, round * 5));
          console.log('round', round, 'exit', await w.terminate());
        }
      })();`,
      { env: { NS: ns.path }, timeoutMs: 60_000 },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, signal: null, timedOut: false });
    expect(result.stdout.trim().split('\n')).toEqual(Array.from({ length: 5 }, (_, i) => `round ${i} exit 1`));
  });
});

describeNetns('addon: a dump read without sizing peeks', () => {
  let ns: NetNs;
  /** 80k routes of 8 nexthops: ~25 MB of records, more than the reader may queue (4 batches of 4 MiB) while JS is busy. */
  const ROUTES_BIG = 80_000;

  beforeAll(() => {
    ns = createNetns('rgdumpbig');
    createVeth(ns, 'v0', null, 'v1');
    ns.ip('addr add 192.0.2.1/24 dev v0');
    const hops = Array.from({ length: 8 }, (_, g) => `nexthop via 192.0.2.${g + 2} dev v0`).join(' ');
    const lines: string[] = [];
    for (let i = 0; i < ROUTES_BIG; i++) lines.push(`route add 10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}/32 ${hops}`);
    ns.ipBatch(lines);
  }, 120_000);

  afterAll(() => ns.destroy());

  it('reads a 65.5 KiB notification queued among the dump\'s parts whole', async () => {
    // Each dump read goes straight into a large buffer (a peek would make the kernel dump
    // ahead): a notification longer than 64 KiB must still not be cut there.
    const records: DecodedRecord[] = [];
    let added = false;
    const m = new binding.Monitor({ netns: ns.path }, (batch, byteLength) => {
      records.push(...decodeBatch(batch.slice(0, byteLength)));
      if (added) return;
      added = true;
      // The loop is blocked here, so the reader stops with its queue full, in the middle of
      // the route dump: the notification is queued behind the parts it has not read yet.
      ns.exec('python3', [addMultipathRoute, '198.51.100.0/24', String(ns.ifindex('v0')), '4094', '192.0.2']);
    });
    try {
      m.start();
      await waitFor(() => records.some((r) => r.kind === 'synced'), 30_000, 'initial sync');
      const isBig = (r: DecodedRecord) => r.kind === 'route' && !r.fromDump && r.route.multipath?.length === 4094;
      await waitFor(() => records.some(isBig), 5000, 'the multipath notification');
      expect(records.filter(isBig)).toHaveLength(1);
      const at = records.findIndex(isBig);
      const routeEnd = records.findIndex((r) => controlText(r) === 'dump-end:route:');
      // Read while the route dump ran, so by the unsized read.
      expect(at).toBeLessThan(routeEnd);
      expect(records.filter((r) => r.kind === 'route' && r.fromDump && r.route.multipath?.length === 8)).toHaveLength(ROUTES_BIG);
      expect(records.filter((r) => r.kind === 'dropped')).toEqual([]);
      expect(m.stats().droppedTruncated).toBe(0);
    } finally {
      m.close();
    }
  }, 60_000);
});
