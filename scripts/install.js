#!/usr/bin/env node
'use strict';
// The package's install script. On Linux it runs node-gyp-build: a prebuild that loads is used
// as is, otherwise the addon is compiled from binding.gyp (musl, other architectures). Off Linux
// nothing is built: routeguard imports there and reports ERR_NOT_LINUX when asked to watch.
if (process.platform !== 'linux') process.exit(0);
const { spawnSync } = require('node:child_process');
const result = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
