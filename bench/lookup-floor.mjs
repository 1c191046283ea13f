// bench/lookup-floor.c from the benchmarks: compiled when missing or older than its
// source (cached in build/bench/), run inside a namespace on a list of queries.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FLOOR_SRC = path.join(HERE, 'lookup-floor.c');
const FLOOR_BIN = path.join(HERE, '..', 'build', 'bench', 'lookup-floor');

function buildFloor() {
  if (fs.existsSync(FLOOR_BIN) && fs.statSync(FLOOR_BIN).mtimeMs >= fs.statSync(FLOOR_SRC).mtimeMs) return;
  fs.mkdirSync(path.dirname(FLOOR_BIN), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-o', FLOOR_BIN, FLOOR_SRC], { stdio: 'inherit' });
}

/**
 * The floor's median µs per lookup over `runs` runs (one process; it takes its own median).
 * `queries`: "TO" or "TO FROM" lines (see lookup-floor.c).
 */
export function runLookupFloor(ns, runs, queries) {
  buildFloor();
  const out = execFileSync(FLOOR_BIN, [ns.path, String(runs)], { input: queries.join('\n') + '\n', encoding: 'utf8' });
  const r = JSON.parse(out);
  if (!r.ok) throw new Error(`lookup-floor: ${r.error}`);
  return r.us;
}
