/**
 * `routeguard demo` end to end, in its own process (as the CLI runs it): the
 * churn closes nothing, the outage closes all 4 connections just after the
 * hold-down, the clients reconnect; and an interrupt removes the namespaces.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loaderOptions } from '../../src/cli/demo/peer-process';
import { DEFAULT_HOLD_DOWNS } from '../../src/judge/hold-downs';
import { describeNetns, waitFor } from '../helpers/netns';

const REGISTER = path.join(__dirname, 'fixtures', 'ts-register.cjs');
const DEMO = path.join(__dirname, '..', '..', 'src', 'cli', 'commands', 'demo.ts');

/** Demos started by a test: one still running after it (a failed expectation) is interrupted, so it removes its namespaces. */
const running: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

function startDemo(args: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      '-r', REGISTER, '-e',
      `const ac = new AbortController();
       for (const s of ['SIGINT', 'SIGTERM']) process.once(s, () => ac.abort());
       require(${JSON.stringify(DEMO)}).run(${JSON.stringify(args)}, { stdout: process.stdout, stderr: process.stderr, signal: ac.signal })
         .then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const namespacesOf = (pid: number) => readdirSync('/run/netns').filter((n) => n.startsWith(`rgdemo-${pid}-`));

it('peers inherit only module-loader options (never -e CODE, which would run the parent again)', () => {
  expect(loaderOptions(['-e', 'x', '-r', 'a', '--import=b', '--enable-source-maps', '-p', 'y', '--max-old-space-size=64'])).toEqual([
    '-r', 'a', '--import=b', '--enable-source-maps',
  ]);
});

describeNetns('routeguard demo (namespaces)', () => {
  it('churn closes nothing, a new lease closes all 4 just after the replacement settle, the clients reconnect', async () => {
    const demo = startDemo();
    const code = await demo.exited;
    const out = demo.output();
    console.log(out);
    expect(code, out).toBe(0);
    expect(out).toMatch(/churn over: 0 connections closed; 4\/4 clients echo/);
    const closed = /4 connections closed with RouteGoneError \(local-address-replaced\), (\d+\.\d+) s after the loss/.exec(out);
    expect(closed, out).not.toBeNull();
    const seconds = Number(closed![1]);
    expect(seconds).toBeGreaterThanOrEqual(DEFAULT_HOLD_DOWNS['local-address-replaced'] / 1000 - 0.05);
    expect(seconds).toBeLessThanOrEqual(DEFAULT_HOLD_DOWNS['local-address-replaced'] / 1000 + 1);
    expect(out).toMatch(/4\/4 clients reconnected in [\d.]+ s; 4 echo/);
    expect(out).toMatch(/As expected\.$/m);
    expect(namespacesOf(demo.child.pid!)).toEqual([]);
  });

  it('removes its namespaces when interrupted', async () => {
    const demo = startDemo();
    await waitFor(() => demo.output().includes('IPv6 address back'), 30_000, 'the demo to reach the IPv6 churn');
    expect(namespacesOf(demo.child.pid!)).toHaveLength(2);
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toBe(130);
    expect(demo.output()).toContain('interrupted: namespaces removed');
    expect(namespacesOf(demo.child.pid!)).toEqual([]);
  });

  it('prints its usage with --help', async () => {
    const demo = startDemo(['--help']);
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toMatch(/^usage: routeguard demo/);
  });
});
