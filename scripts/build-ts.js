#!/usr/bin/env node
'use strict';
/**
 * Compiles src/ to dist/ (JavaScript and .d.ts), from scratch so no file of a removed module
 * lingers in the package. Type errors do not stop the emit (an install of a work-in-progress
 * checkout still gets a runnable CLI); `npm run typecheck` is the gate that fails on them, and
 * `npm run release` runs it. Anything else tsc reports (bad config, nothing emitted) fails here.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
const output = `${result.stdout}${result.stderr}`;
if (result.status === 0) process.exit(0);
const emitted = fs.existsSync(path.join(root, 'dist', 'index.js')) && fs.existsSync(path.join(root, 'dist', 'index.d.ts'));
if (emitted && /error TS\d+/.test(output) && !/error TS(5\d{3}|6\d{3})/.test(output)) {
  const count = output.match(/error TS\d+/g).length;
  process.stderr.write(`build-ts: dist/ emitted with ${count} type error(s); \`npm run typecheck\` lists them\n`);
  process.exit(0);
}
process.stderr.write(output);
process.exit(result.status ?? 1);
