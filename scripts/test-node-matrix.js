#!/usr/bin/env node
'use strict';
/**
 * `npm run test:node-matrix`: the x64 prebuild (one Node-API build) works on Node 20, 22 and 24.
 * Node 20 is the Node running this script; 22 and 24 come from the npm registry's `node`
 * package (cached in .cache/node-matrix). Each runs scripts/smoke.js in a namespace of its own
 * (`unshare -n`): load, start(), an address event, lookupRoute, `routeguard dump --json`.
 *
 *   node scripts/test-node-matrix.js [--report FILE] [node@22 node@24 ...]
 *
 * --report writes { passed, failed } as JSON (.ci/run adds it to its counts).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ensureDist, ensurePrebuild } = require('./ensure-built');
const { nodeFromPackage } = require('./node-binaries');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const reportAt = args.indexOf('--report');
const reportFile = reportAt >= 0 ? args.splice(reportAt, 2)[1] : null;
const specs = args.length ? args : ['node@22', 'node@24'];
const prebuild = ensurePrebuild(process.arch);
ensureDist();

const nodes = [{ spec: `this Node (${process.version})`, bin: process.execPath }];
let failed = 0;
for (const spec of specs) {
  try {
    nodes.push({ spec, bin: nodeFromPackage(spec) });
  } catch (err) {
    failed++;
    process.stdout.write(`not ok - ${spec}: ${err.message}\n`);
  }
}

for (const { spec, bin } of nodes) {
  const started = Date.now();
  const r = spawnSync('unshare', ['-n', bin, path.join(__dirname, 'smoke.js'), root], {
    cwd: root,
    // PREBUILDS_ONLY: node-gyp-build must take the prebuild, never the developer's build/.
    env: { ...process.env, PREBUILDS_ONLY: '1', ROUTEGUARD_ADDON_DIR: '' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const last = (r.stdout || '').trim().split('\n').pop();
  let result = null;
  try {
    result = JSON.parse(last);
  } catch {
    /* reported below */
  }
  if (r.status === 0 && result && result.addon === prebuild) {
    process.stdout.write(`ok - ${spec}: ${last} (${seconds} s)\n`);
  } else {
    failed++;
    process.stdout.write(`not ok - ${spec} (exit ${r.status}, ${seconds} s)\n${r.stdout}${r.stderr}\n`);
  }
}
// This Node plus each spec: a spec that could not be installed counted as failed above.
const passed = specs.length + 1 - failed;
if (reportFile) fs.writeFileSync(reportFile, JSON.stringify({ passed, failed }));
process.stdout.write(`node matrix: ${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
