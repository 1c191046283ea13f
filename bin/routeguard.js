#!/usr/bin/env node
'use strict';
// The CLI runs from the compiled output (dist/), built by `npm install` (prepare) or `npm run build:ts`.
const { main } = require('../dist/cli/main.js');

// A reader that stops early (`routeguard dump --json | head`) closes the pipe: that ends
// the command quietly, as it ends `ip -j ... | head`, not with an EPIPE stack trace.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(0);
  throw err;
});

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => controller.abort());
}
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`routeguard: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
