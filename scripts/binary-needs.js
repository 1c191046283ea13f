'use strict';
/**
 * What a built addon asks of the system it loads on: its ELF machine and the symbol versions it
 * needs (readelf's version-needs section, the list the dynamic loader checks at dlopen time).
 * Used by the prepack check and by test/portability.test.ts.
 */
const { execFileSync } = require('node:child_process');
const { closeSync, openSync, readSync } = require('node:fs');

/** Official Node 20-24 Linux binaries need glibc 2.28; a prebuild may need nothing newer. */
const MAX_GLIBC = [2, 28];

/** Node's process.arch names of the ELF e_machine values we build for. */
const MACHINES = { 62: 'x64', 183: 'arm64' };

/** process.arch of an ELF file, from e_machine (offset 18, little-endian on both targets). */
function elfArch(file) {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
  const machine = header.readUInt16LE(18);
  return MACHINES[machine] ?? `e_machine ${machine}`;
}

/** [{ file: 'libc.so.6', version: 'GLIBC_2.17' }, ...] from `readelf --version-info`. */
function versionNeeds(file) {
  // maxBuffer: readelf also lists every symbol's version (about 1 MB for the node binary).
  const out = execFileSync('readelf', ['--version-info', '--wide', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const section = out.split(/^Version needs section/m)[1] ?? '';
  const needs = [];
  let library = null;
  for (const line of section.split('\n')) {
    const lib = /File: (\S+)/.exec(line);
    if (lib) library = lib[1];
    const name = /Name: (\S+)/.exec(line);
    if (name && library) needs.push({ file: library, version: name[1] });
  }
  return needs;
}

function isNewerGlibc(version) {
  const m = /^GLIBC_(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > MAX_GLIBC[0] || (major === MAX_GLIBC[0] && minor > MAX_GLIBC[1]);
}

/** The needs a portable prebuild must not have: any GLIBCXX_/CXXABI_ version, or glibc > 2.28. */
function portabilityProblems(file) {
  return versionNeeds(file)
    .filter((n) => /^(GLIBCXX|CXXABI)_/.test(n.version) || isNewerGlibc(n.version))
    .map((n) => `${n.version} (${n.file})`);
}

module.exports = { MAX_GLIBC, elfArch, versionNeeds, portabilityProblems };
