#!/usr/bin/env node
'use strict';
/**
 * Smoke test of routeguard as an application loads it, run inside a fresh network namespace
 * (callers start it under `unshare -n`, so the address it adds lives and dies with this process):
 * load, start(), one address event, lookupRoute, `routeguard dump --json`.
 *
 *   unshare -n node scripts/smoke.js [PACKAGE]     # PACKAGE: 'routeguard' (default) or a directory
 *
 * Prints one JSON line (Node version, arch, the addon file actually mapped, what was seen) and
 * exits 1 with a reason on the first failure.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');

const target = process.argv[2] || 'routeguard';
const ADDRESS = '192.0.2.1';
const EVENT_TIMEOUT_MS = 10_000;

/**
 * Resolves from the working directory (the consumer project), never from this script: Node's
 * package self-reference would find the repository's own routeguard, whose build/ would win.
 */
const requireFromCwd = createRequire(path.join(process.cwd(), 'smoke.js'));

/**
 * How to start another Node like this one: under qemu-user an arm64 Node cannot exec an arm64
 * binary by itself (no binfmt_misc), so test:arm64 passes its qemu command line here as JSON.
 */
const launcher = process.env.ROUTEGUARD_SMOKE_LAUNCHER ? JSON.parse(process.env.ROUTEGUARD_SMOKE_LAUNCHER) : [];

/** iproute2 by absolute path: the caller may have cut PATH down to node and npm. */
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => fs.existsSync(p)) ?? 'ip';

/** The routeguard addon this process has mapped, from the kernel's view (/proc/self/maps). */
function mappedAddon() {
  const files = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').map((line) => line.split(/\s+/)[5]);
  return files.find((f) => f && f.endsWith('.node')) ?? null;
}

function addressAdded(monitor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no event for ${ADDRESS} within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
    monitor.on('event', (e) => {
      if (e.type === 'address' && e.action === 'added' && e.address.address === ADDRESS) {
        clearTimeout(timer);
        resolve(e);
      }
    });
  });
}

async function main() {
  const routeguard = requireFromCwd(target);
  const monitor = new routeguard.NetlinkMonitor();
  await monitor.start();
  const addon = mappedAddon();
  const added = addressAdded(monitor);
  execFileSync(IP, ['link', 'set', 'lo', 'up']);
  execFileSync(IP, ['address', 'add', `${ADDRESS}/24`, 'dev', 'lo']);
  const event = await added;
  const lookup = monitor.lookupRoute({ to: ADDRESS });
  monitor.close();
  if (!lookup.ok) throw new Error(`lookupRoute(${ADDRESS}) failed: ${lookup.code} ${lookup.message}`);

  const bin = path.join(path.dirname(requireFromCwd.resolve(`${target}/package.json`)), 'bin', 'routeguard.js');
  const [command, ...prefix] = [...launcher, process.execPath];
  const dump = JSON.parse(execFileSync(command, [...prefix, bin, 'dump', '--json'], { encoding: 'utf8' }));
  if (!dump.addresses.some((a) => a.address === ADDRESS)) throw new Error(`dump --json does not list ${ADDRESS}`);

  process.stdout.write(`${JSON.stringify({
    node: process.version,
    arch: process.arch,
    addon,
    event: `address ${event.address.address}/${event.address.prefixLength} added on index ${event.address.index}`,
    lookupRoute: `${lookup.route.type} route via index ${lookup.route.oif}`,
    dump: { links: dump.links.length, addresses: dump.addresses.length, routes: dump.routes.length },
  })}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`smoke: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
