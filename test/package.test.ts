/**
 * The package as consumers load it: CommonJS require and ESM import by name
 * (through package.json "exports", from the compiled dist/ that `npm install` builds).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20_000 });
}

describe('package entry points', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'index.js'))) {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
    }
  });

  it('loads from CommonJS with named exports', () => {
    const out = node(['-e', `const r = require('routeguard'); console.log(typeof r.NetlinkMonitor, typeof r.RouteguardError, r.normalizeIp('::ffff:192.0.2.1'))`]);
    expect(out.trim()).toBe('function function 192.0.2.1');
  });

  it('loads from ESM with named exports', () => {
    const out = node(['--input-type=module', '-e', `import { NetlinkMonitor, InvalidArgumentError } from 'routeguard'; console.log(typeof NetlinkMonitor, new InvalidArgumentError('x').code)`]);
    expect(out.trim()).toBe('function ERR_INVALID_ARG');
  });

  it('keeps the process alive while ref()d, not once unref()d', () => {
    // Synced, then unref()d and left open: the process must still exit by itself.
    const out = node(['-e', `
      const { NetlinkMonitor } = require('routeguard');
      const m = new NetlinkMonitor();
      m.start().then(() => { console.log('synced', m.state.links().next().done === false); m.unref(); });
      process.on('exit', () => console.log('exited'));
    `]);
    expect(out).toBe('synced true\nexited\n');
  });

  it('close() is idempotent and ends the process\'s interest in the socket', () => {
    const out = node(['-e', `
      const { NetlinkMonitor } = require('routeguard');
      const m = new NetlinkMonitor();
      m.start().then(() => { m.close(); m.close(); console.log('closed', m.isClosed); });
    `]);
    expect(out).toBe('closed true\n');
  });

  it('prints CLI usage and rejects unknown commands with exit code 2', () => {
    expect(node(['bin/routeguard.js', '--help'])).toContain('usage: routeguard <command>');
    let code = 0;
    try {
      node(['bin/routeguard.js', 'frobnicate']);
    } catch (err) {
      code = (err as { status: number }).status;
    }
    expect(code).toBe(2);
  });
});
