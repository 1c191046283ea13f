/**
 * Once per test run:
 * - rebuild dist/, which the CLI and package tests load, so they never test stale output;
 * - remove namespaces that earlier, interrupted runs of these tests left behind
 *   (named rgXXX-<pid>-<n> by test/helpers/netns.ts, whose <pid> is no longer alive).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

function removeStaleNamespaces(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: 'pipe' });
  } catch {
    return; // no iproute2 or no permission: nothing of ours to clean
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    // rgXXX-<pid>-<n> (test/helpers/netns.ts; XXX may hold digits: rg10ks), rgdemo-<pid>-srv (the demo).
    const m = /^rg[a-z0-9]+-(\d+)-[a-z0-9]+$/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its test process still runs
    } catch {
      /* dead owner */
    }
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe' });
    } catch {
      /* raced with another cleanup */
    }
  }
}

export default function setup(): void {
  removeStaleNamespaces();
  const root = path.resolve(__dirname, '..', '..');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    // Type errors still emit JavaScript; they are reported by `npm run typecheck`.
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    if (!out.includes('error TS')) throw err;
  }
}
