/**
 * A started NetlinkMonitor lives until close(), whatever the garbage collector does
 * (issue: the addon held the JS monitor weakly). Each pattern runs in a child process
 * that holds nothing else, with --expose-gc forcing collections where they hurt most.
 * The children watch a namespace made here; the test changes only that namespace.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runNode } from '../helpers/child';
import { createNetns, createVeth, describeNetns, type NetNs } from '../helpers/netns';

const dist = path.resolve(__dirname, '..', '..', 'dist');
const prelude = `const { NetlinkMonitor } = require(${JSON.stringify(dist)});\n`;

describeNetns('NetlinkMonitor lifetime under garbage collection', () => {
  let ns: NetNs;

  beforeAll(() => {
    ns = createNetns('rglife');
    createVeth(ns, 'v0', null, 'v1');
  });
  afterAll(() => ns?.destroy());

  it('`await new NetlinkMonitor().start()` resolves although a GC runs while it syncs', async () => {
    const result = await runNode(
      prelude +
        `
      (async () => {
        const pending = new NetlinkMonitor({ netns: process.env.NS }).start();
        global.gc();
        await new Promise((r) => setImmediate(r));
        global.gc();
        const m = await pending;
        console.log('synced', m.synced);
        m.close();
      })();
    `,
      { env: { NS: ns.path }, args: ['--expose-gc'] },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(result.stdout).toBe('synced true\n');
  });

  it('a monitor reachable only through its event listener keeps the process alive and delivers events', async () => {
    let added = false;
    const result = await runNode(
      prelude +
        `
      new NetlinkMonitor({ netns: process.env.NS })
        .on('event', (e) => {
          if (e.type === 'address' && e.action === 'added' && e.address.local === '192.0.2.77') {
            console.log('event');
            process.exit(0);
          }
        })
        .on('close', () => console.log('closed'))
        .start()
        .then(() => {
          console.log('ready');
          global.gc();
          setImmediate(() => global.gc());
        });
    `,
      {
        env: { NS: ns.path },
        args: ['--expose-gc'],
        timeoutMs: 15_000,
        onStdout: (_chunk, all) => {
          if (added || !all.includes('ready')) return;
          added = true;
          // Long enough for the forced collections to have run.
          setTimeout(() => ns.ip('addr add 192.0.2.77/24 dev v0'), 300);
        },
      },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(result.stdout).toBe('ready\nevent\n');
  });

  it('300 start/close cycles in an async function all complete', async () => {
    const result = await runNode(
      prelude +
        `
      (async () => {
        let done = 0;
        for (let i = 0; i < 300; i++) {
          const m = new NetlinkMonitor({ netns: process.env.NS });
          // A collection while this function is suspended in await: it is then
          // reachable only through the pending start() promise.
          if (i % 10 === 0) setImmediate(() => global.gc());
          await m.start();
          m.close();
          done++;
        }
        console.log('cycles', done);
      })();
    `,
      { env: { NS: ns.path }, args: ['--expose-gc'], timeoutMs: 60_000 },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(result.stdout).toBe('cycles 300\n');
  });

  it('an unref()ed started monitor does not hold the process open, and is still not collected while open', async () => {
    const result = await runNode(
      prelude +
        `
      (async () => {
        const m = await new NetlinkMonitor({ netns: process.env.NS }).start();
        m.unref();
        const weak = new WeakRef(m);
        setTimeout(() => {
          global.gc();
          setImmediate(() => {
            global.gc();
            const alive = weak.deref();
            console.log('alive', alive !== undefined && !alive.isClosed);
          });
        }, 50);
      })();
    `,
      { env: { NS: ns.path }, args: ['--expose-gc'] },
    );
    expect(result.stderr).toBe('');
    // The process exits by itself (unref'd) after the timer, with the monitor alive.
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(result.stdout).toBe('alive true\n');
  });

  it('unref() before start() is honoured by start(): the process exits with the monitor open', async () => {
    const result = await runNode(
      prelude +
        `
      const m = new NetlinkMonitor({ netns: process.env.NS }).unref();
      // Only this timer holds the process: the monitor starts meanwhile, then lets it exit.
      setTimeout(() => console.log('timer'), 500);
      m.start().then(() => console.log('started', m.isClosed));
      process.on('exit', () => console.log('exit, open', !m.isClosed));
    `,
      { env: { NS: ns.path }, timeoutMs: 10_000 },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(result.stdout).toBe('started false\ntimer\nexit, open true\n');
  });
});
