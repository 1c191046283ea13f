#!/usr/bin/env node
'use strict';
/**
 * Builds the portable prebuilds shipped in the package: prebuilds/linux-<arch>/node.napi.glibc.node.
 *
 *   node scripts/prebuild.js            # linux-x64 and linux-arm64 (the release set)
 *   node scripts/prebuild.js x64        # only the ones named
 *
 * prebuildify drives node-gyp with ROUTEGUARD_PORTABLE=1 (binding.gyp: static libstdc++, no glibc
 * symbol newer than 2.28); arm64 is cross-compiled with Debian's g++-aarch64-linux-gnu. This
 * script installs nothing: it says which packages are missing. It builds in a staging copy of
 * the native sources so the developer's build/ (which node-gyp-build prefers) is never replaced
 * by a portable or foreign-architecture binary.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { elfArch, portabilityProblems } = require('./binary-needs');

const root = path.resolve(__dirname, '..');

/** Per target: the toolchain (null = the host's) and the Debian packages that provide it. */
const TARGETS = {
  x64: { host: 'x64', prefix: null, packages: ['g++', 'make', 'python3'] },
  arm64: { host: 'arm64', prefix: 'aarch64-linux-gnu-', packages: ['g++-aarch64-linux-gnu', 'make', 'python3'] },
};

function fail(message) {
  process.stderr.write(`prebuild: ${message}\n`);
  process.exit(1);
}

function onPath(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/** The compilers of one target: native ones for the host's arch, cross ones otherwise. */
function toolchain(arch) {
  const target = TARGETS[arch];
  const native = arch === os.arch();
  const prefix = native ? '' : target.prefix;
  if (!native && !prefix) fail(`cannot cross-compile for ${arch} from ${os.arch()}`);
  const tools = { CC: `${prefix}gcc`, CXX: `${prefix}g++`, STRIP: `${prefix}strip` };
  // readelf: the portability check of every binary built (binutils, which g++ pulls in).
  const missing = [...Object.values(tools), 'make', 'python3', 'readelf'].filter((t) => !onPath(t));
  if (missing.length) {
    fail(`linux-${arch} needs ${missing.join(', ')} on PATH. Install them with:\n` +
      `  apt-get install ${target.packages.join(' ')}`);
  }
  return tools;
}

/** A copy of what binding.gyp compiles, with node_modules linked, so the build/ there is scratch. */
function stage() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routeguard-prebuild-'));
  for (const f of ['binding.gyp', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(dir, f));
  fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), {
    recursive: true,
    filter: (src) => !src.includes(`${path.sep}fuzz`),
  });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

function build(arch, staging) {
  const tools = toolchain(arch);
  const env = {
    ...process.env,
    ROUTEGUARD_PORTABLE: '1',
    CC: tools.CC,
    CXX: tools.CXX,
    LINK: tools.CXX,
    // node-gyp builds offline against the running Node's headers (they are the same for every arch).
    npm_config_nodedir: process.env.npm_config_nodedir || path.resolve(process.execPath, '..', '..'),
  };
  const prebuildify = require.resolve('prebuildify/bin.js');
  const args = [prebuildify, '--napi', '--strip', '--tag-libc', `--arch=${arch}`, `--strip-bin=${tools.STRIP}`];
  process.stdout.write(`prebuild: linux-${arch} with ${tools.CXX}\n`);
  execFileSync(process.execPath, args, { cwd: staging, env, stdio: 'inherit' });
  const from = path.join(staging, 'prebuilds', `linux-${arch}`);
  const to = path.join(root, 'prebuilds', `linux-${arch}`);
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) {
    const file = path.join(to, f);
    fs.copyFileSync(path.join(from, f), file);
    check(arch, file);
    process.stdout.write(`prebuild: ${path.relative(root, file)} (${fs.statSync(file).size} bytes)\n`);
  }
}

/** A prebuild that would not load where it is meant to is not written off as built. */
function check(arch, file) {
  const actual = elfArch(file);
  if (actual !== arch) fail(`${file} is built for ${actual}, not ${arch}`);
  const problems = portabilityProblems(file);
  if (problems.length) fail(`${file} needs ${problems.join(', ')}: it would not load on older distributions`);
}

function main() {
  if (process.platform !== 'linux') fail('prebuilds are built on Linux');
  const arches = process.argv.slice(2);
  for (const a of arches) if (!TARGETS[a]) fail(`unknown target "${a}"; known: ${Object.keys(TARGETS).join(', ')}`);
  const staging = stage();
  try {
    for (const arch of arches.length ? arches : Object.keys(TARGETS)) build(arch, staging);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

main();
