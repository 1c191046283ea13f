#!/usr/bin/env node
'use strict';
/**
 * Parses every captured kernel datagram (test/fixtures/netlink/*.bin) with the addon this Node
 * loads and prints { arch, addon, records: { file: decoded records } } as JSON. test:arm64 runs it
 * on x64 and under qemu on arm64: the two architectures must decode the same bytes the same way
 * (test/parser.test.ts checks the x64 result against what `ip -j` said at capture time).
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { loadBinding } = require(path.join(root, 'dist', 'native', 'binding.js'));
const { decodeBatch } = require(path.join(root, 'dist', 'netlink', 'decode.js'));

const dir = path.join(root, 'test', 'fixtures', 'netlink');
const binding = loadBinding();
const records = {};
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).sort()) {
  records[file] = decodeBatch(binding.parse(new Uint8Array(fs.readFileSync(path.join(dir, file)))));
}
const addon = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5]).find((f) => f && f.endsWith('.node'));
process.stdout.write(JSON.stringify({ arch: process.arch, addon, records }, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
