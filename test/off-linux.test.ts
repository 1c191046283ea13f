/**
 * routeguard on a macOS or Windows laptop: the package imports, NetlinkMonitor.start() rejects
 * with ERR_NOT_LINUX, ConnectionGuard and hardenServer are inert (track, never close), and the
 * install script builds nothing. Each case runs the real package in a child process whose
 * process.platform a --require preload (test/helpers/fake-platform.cjs) reports as another OS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const preload = path.join(__dirname, 'helpers', 'fake-platform.cjs');

function runAs(platform: string | null, args: string[], cwd = root): { status: number | null; stdout: string; stderr: string } {
  const pre = platform ? ['--require', preload] : [];
  const r = spawnSync(process.execPath, [...pre, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ROUTEGUARD_FAKE_PLATFORM: platform ?? '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `body` (CommonJS, `rg` = the package) and returns what it printed as JSON. */
function evalAs(platform: string | null, body: string): Record<string, unknown> {
  const script = `const rg = require('routeguard'); (async () => { ${body} })().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  const r = runAs(platform, ['-e', script]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/**
 * A loopback server hardened with the guard, one client, a message each way after 300 ms (a
 * real guard would have judged the path by then): what the guard made of both ends.
 */
const GUARDED_CONNECTION = `
  const net = require('node:net');
  const guard = new rg.ConnectionGuard({ source: new rg.NetlinkMonitor() });
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
  const hardened = rg.hardenServer(server, { guard });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const tracked = guard.track(client);
  await new Promise((r) => setTimeout(r, 300));
  client.write('ping');
  const echo = await new Promise((r) => client.once('data', (d) => r(String(d))));
  const states = guard.connections().map((t) => [t.state, t.unresolvedReason]);
  const result = { platform: process.platform, inert: guard.inert, echo, states,
    counters: guard.counters(), accepted: hardened.health().accepted, destroyed: client.destroyed };
  client.destroy(); server.close(); guard.close(); hardened.dispose();
  return result;`;

describe('off Linux (process.platform reported as darwin / win32)', () => {
  it.each(['darwin', 'win32'])('%s: imports from CommonJS and ESM', (platform) => {
    const r = runAs(platform, ['--input-type=module', '-e', `
      import rg, { NetlinkMonitor } from 'routeguard';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('routeguard');
      console.log(process.platform, NetlinkMonitor === cjs.NetlinkMonitor && rg === cjs);`]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`${platform} true`);
  });

  it('NetlinkMonitor.start() rejects with ERR_NOT_LINUX (a NotLinuxError)', () => {
    const out = evalAs('darwin', `
      const m = new rg.NetlinkMonitor();
      try { await m.start(); return { started: true }; }
      catch (e) { return { code: e.code, isNotLinux: e instanceof rg.NotLinuxError, message: e.message, closed: m.isClosed }; }`);
    expect(out).toEqual({
      code: 'ERR_NOT_LINUX',
      isNotLinux: true,
      message: 'routeguard needs Linux (netlink); this is darwin',
      closed: true,
    });
  });

  it('ConnectionGuard and hardenServer are inert: connections are tracked, never judged or closed', () => {
    const out = evalAs('darwin', GUARDED_CONNECTION);
    expect(out).toMatchObject({ platform: 'darwin', inert: true, echo: 'ping', destroyed: false, accepted: 1 });
    // Both ends (the client tracked by hand, the server side by hardenServer) are left unresolved.
    expect(out.states).toEqual([['unresolved', 'ERR_INERT'], ['unresolved', 'ERR_INERT']]);
    expect(out.counters).toMatchObject({ tracked: 2, unresolved: 2, paths: 0, closedByGuard: 0 });
  });

  it('an inert guard needs no source or judge', () => {
    const out = evalAs('win32', `const g = new rg.ConnectionGuard({}); const r = { inert: g.inert, source: g.source }; g.close(); return r;`);
    expect(out).toEqual({ inert: true, source: null });
  });

  it('on Linux the same code is not inert, and a guard without source or judge is refused', () => {
    const out = evalAs(null, `
      const g = new rg.ConnectionGuard({ source: new rg.NetlinkMonitor() });
      let refused = null;
      try { new rg.ConnectionGuard({}); } catch (e) { refused = e.code; }
      const r = { platform: process.platform, inert: g.inert, refused }; g.close(); return r;`);
    expect(out).toEqual({ platform: 'linux', inert: false, refused: 'ERR_INVALID_ARG' });
  });

  describe("under Bun's runtime (process.versions.bun, as Bun sets it)", () => {
    const bun = path.join(__dirname, 'helpers', 'fake-bun.cjs');
    const evalBun = (body: string) => {
      const script = `const rg = require('routeguard'); (async () => { ${body} })().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
      const r = spawnSync(process.execPath, ['--require', bun, '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };

    it('start() rejects with ERR_UNSUPPORTED_RUNTIME before the addon makes a monitor (Bun aborts at uv_poll_init)', () => {
      const out = evalBun(`
        const m = new rg.NetlinkMonitor();
        let closeHeard = false;
        m.on('close', () => { closeHeard = true; });
        const e = await m.start().then(() => null, (err) => err);
        return { code: e.code, isRouteguard: e instanceof rg.RouteguardError, message: e.message, closed: m.isClosed, closeHeard };`);
      expect(out).toMatchObject({ code: 'ERR_UNSUPPORTED_RUNTIME', isRouteguard: true, closed: true, closeHeard: true });
      expect(out.message).toMatch(/Bun 1\.4\.5 has no libuv uv_poll.*run the application with `node`/);
    });

    it('a guard is inert by default there, as off Linux', () => {
      const out = evalBun(`const g = new rg.ConnectionGuard({}); const r = { inert: g.inert }; g.close(); return r;`);
      expect(out).toEqual({ inert: true });
    });
  });

  describe('the install script', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'routeguard-install-'));
    afterAll(() => rmSync(empty, { recursive: true, force: true }));
    const install = path.join(root, 'scripts', 'install.js');

    it('exits 0 off Linux without building anything', () => {
      // In a directory with no binding.gyp and no prebuilds, any build attempt would fail.
      const r = runAs('darwin', [install], empty);
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(readdirSync(empty)).toEqual([]);
    });

    it('on Linux hands over to node-gyp-build (which fails here: nothing to load, nothing to build)', () => {
      const r = runAs(null, [install], empty);
      expect(r.status).not.toBe(0);
    });
  });
});
