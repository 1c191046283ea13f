// A private network namespace for a benchmark: made with `ip netns add`, loopback up,
// routes loaded in one `ip -batch` run, removed at the end. Benchmarks change the network
// only inside namespaces made here.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class BenchNamespace {
  constructor(name) {
    this.name = name;
    this.path = `/run/netns/${name}`;
    this.exists = false;
  }

  create() {
    execFileSync('ip', ['netns', 'add', this.name]);
    this.exists = true;
    this.ip('link set lo up');
  }

  /** `ip -n NAME ARGS` (ARGS split on spaces); returns stdout. */
  ip(args) {
    return execFileSync('ip', ['-n', this.name, ...args.split(' ')], { encoding: 'utf8' });
  }

  /** Many `ip` commands in one process, through a file (a million lines do not fit a pipe's patience). */
  batch(lines) {
    const file = path.join(os.tmpdir(), `${this.name}.batch`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    try {
      execFileSync('ip', ['-n', this.name, '-batch', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  remove() {
    if (!this.exists) return;
    this.exists = false;
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
