/**
 * The package as consumers load it: CommonJS require and ESM import by name
 * (through package.json "exports", from the compiled dist/ that `npm install` builds).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('keeps one class identity across ESM and CommonJS, and the default export is the module', () => {
    const out = node(['--input-type=module', '-e', `
      import routeguard, { NetlinkMonitor, RouteguardError } from 'routeguard';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('routeguard');
      console.log(NetlinkMonitor === cjs.NetlinkMonitor, RouteguardError === cjs.RouteguardError,
        routeguard === cjs, cjs.default === cjs, new cjs.InvalidArgumentError('x') instanceof RouteguardError)`]);
    expect(out.trim()).toBe('true true true true true');
  });

  it('reports a missing addon as ERR_ADDON_LOAD in one paragraph that says what to install on Alpine', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'routeguard-noaddon-'));
    try {
      const out = execFileSync(process.execPath, ['-e', `
        const { NetlinkMonitor } = require('routeguard');
        new NetlinkMonitor().start().catch((e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ROUTEGUARD_ADDON_DIR: empty },
      });
      const { code, message } = JSON.parse(out) as { code: string; message: string };
      expect(code).toBe('ERR_ADDON_LOAD');
      expect(message).not.toMatch(/[\r\n]/);
      expect(message).not.toMatch(/ {2}/);
      expect(message).toContain('No native build was found');
      expect(message).toContain('apk add build-base python3 linux-headers');
      expect(message).toContain('npm rebuild routeguard');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('prints its version', () => {
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(node(['bin/routeguard.js', '--version'])).toBe(`${version}\n`);
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
