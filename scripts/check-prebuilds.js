#!/usr/bin/env node
'use strict';
/**
 * prepack: refuses to pack a package without its prebuilds, or with one that would not load where
 * it is meant to (wrong architecture, GLIBCXX_* or glibc > 2.28 needs). Build them with
 * `npm run prebuilds` (or make the whole release with `npm run release`).
 * ROUTEGUARD_PREBUILDS=linux-x64 narrows the required set (CI packs an x64-only package to test it).
 */
const fs = require('node:fs');
const path = require('node:path');
const { elfArch, portabilityProblems } = require('./binary-needs');

const RELEASE_SET = ['linux-x64', 'linux-arm64'];
const root = path.resolve(__dirname, '..');
const required = process.env.ROUTEGUARD_PREBUILDS ? process.env.ROUTEGUARD_PREBUILDS.split(',') : RELEASE_SET;

const problems = [];
for (const target of required) {
  const file = path.join(root, 'prebuilds', target, 'routeguard.glibc.node');
  if (!fs.existsSync(file)) {
    problems.push(`${path.relative(root, file)} is missing`);
    continue;
  }
  const arch = target.split('-')[1];
  const actual = elfArch(file);
  if (actual !== arch) problems.push(`${path.relative(root, file)} is built for ${actual}, not ${arch}`);
  const needs = portabilityProblems(file);
  if (needs.length) problems.push(`${path.relative(root, file)} needs ${needs.join(', ')}`);
}
if (problems.length) {
  process.stderr.write(
    `routeguard: not packing: ${problems.join('; ')}.\n` +
      'Build the prebuilds with `npm run prebuilds` (needs g++, make, python3 and g++-aarch64-linux-gnu; see docs/releasing.md), ' +
      'or make the whole release with `npm run release`.\n',
  );
  process.exit(1);
}
process.stdout.write(`routeguard: prebuilds present: ${required.join(', ')}\n`);
