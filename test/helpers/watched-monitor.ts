/**
 * A NetlinkMonitor on a test namespace with every event recorded, and the
 * differential check of its mirror against `ip -j`.
 */
import { expect } from 'vitest';
import { NetlinkMonitor, type MonitorOptions } from '../../src/monitor';
import type { NetworkEvent } from '../../src/netlink/types';
import { settledFacts } from './ip-facts';
import type { NetNs } from './netns';

export interface Watched {
  monitor: NetlinkMonitor;
  events: NetworkEvent[];
}

/** Starts a monitor on `ns`, recording its events from the start. */
export async function startWatching(ns: NetNs, options: MonitorOptions = {}): Promise<Watched> {
  const monitor = new NetlinkMonitor({ netns: ns.path, ...options });
  const events: NetworkEvent[] = [];
  monitor.on('event', (e) => events.push(e));
  await monitor.start();
  return { monitor, events };
}

/**
 * The mirror trails the kernel by the time an event takes to arrive (link-local DAD may
 * finish mid-test, for instance), so compare until equal, for at most `timeoutMs`, then assert.
 */
export async function expectMirrorEqualsKernel(ns: NetNs, monitor: NetlinkMonitor, timeoutMs = 3000): Promise<void> {
  const { kernel, mirror } = await settledFacts(ns, monitor.state, timeoutMs);
  expect(mirror).toEqual(kernel);
}
