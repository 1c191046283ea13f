'use strict';
/** What the smoke-test scripts run against, built when a tree does not have it yet. */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** prebuilds/linux-<arch>/routeguard.glibc.node, built by scripts/prebuild.js when missing. */
function ensurePrebuild(arch) {
  const file = path.join(root, 'prebuilds', `linux-${arch}`, 'routeguard.glibc.node');
  if (!fs.existsSync(file)) {
    execFileSync(process.execPath, [path.join(__dirname, 'prebuild.js'), arch], { cwd: root, stdio: 'inherit' });
  }
  return file;
}

/** dist/, compiled by scripts/build-ts.js when missing. */
function ensureDist() {
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
    execFileSync(process.execPath, [path.join(__dirname, 'build-ts.js')], { cwd: root, stdio: 'inherit' });
  }
}

module.exports = { ensureDist, ensurePrebuild };
