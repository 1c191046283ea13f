#!/usr/bin/env node
'use strict';
/**
 * Runs a command with another Node first on PATH, from the npm registry's `node` package
 * (cached in .cache/node-matrix, see node-binaries.js). `npm run test:node24` runs the whole
 * suite this way: Node 20 reached its end of life in April 2026, and 24 is the LTS most users
 * run, so it gets every test, not only the matrix's smoke run.
 *
 *   node scripts/on-node.js node@24 vitest run [vitest options...]
 *
 * Exits with the command's status. Commands whose scripts start `#!/usr/bin/env node` (vitest
 * and its workers, npx) run on that Node; `process.version` in them says which.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { nodeFromPackage } = require('./node-binaries');

const [spec, command, ...rest] = process.argv.slice(2);
if (!spec || !command) {
  process.stderr.write('usage: node scripts/on-node.js node@24 <command> [args...]\n');
  process.exit(2);
}
let bin;
try {
  bin = nodeFromPackage(spec);
} catch (err) {
  process.stderr.write(`on-node: could not install ${spec}: ${err.message}\n`);
  process.exit(1);
}
const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
process.stdout.write(`on-node: ${command} ${rest.join(' ')} on Node ${version} (${path.relative(process.cwd(), bin)})\n`);
const r = spawnSync(command, rest, {
  stdio: 'inherit',
  env: { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH}` },
});
if (r.error) {
  process.stderr.write(`on-node: ${command}: ${r.error.message}\n`);
  process.exit(1);
}
process.exit(r.status ?? 1);
