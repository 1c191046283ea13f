/**
 * The judge on real-host setups, under a virtual clock (the namespace twins are in
 * real-hosts.netns.test.ts): policy rules (wg-quick, prohibit, a removed table rule),
 * neighbour evidence, sources without address objects, a bound device, fresh
 * lifetimes after an overflow, what `changed` means, and a judge whose source ends.
 */
import { describe, expect, it } from 'vitest';
import { PathJudge } from '../../src/judge/path-judge';
import { VirtualClock } from '../../src/judge/clock';
import { MonitorClosedError } from '../../src/errors';
import type { RouteQuery } from '../../src/netlink/types';
import type { RouteLookupResult } from '../../src/netlink/view';
import { FakeNetwork } from '../helpers/fake-network';
import { addSecondUplink, CAP, HOLD, makeHost, UPLINK2, V4, V6 } from './scenario-helpers';

describe('policy rules', () => {
  it('wg-quick up (not fwmark 51820 -> table 51820; main with suppress_prefixlength 0): unmarked LAN paths lose their source fit, the marked tunnel path stays', () => {
    const h = makeHost({}, (net) => {
      const wg0 = net.addLink('wg0');
      net.addAddress(wg0, '203.0.113.2/24');
    });
    const wg0 = h.net.state.linkByName('wg0')!.index;
    const lan = h.watch({ local: V4.local, remote: V4.peer });
    const tunnel = h.watch({ local: V4.local, remote: '192.0.2.99', mark: 51820 }); // the WireGuard endpoint
    h.net.addRoute({ to: 'default', dev: wg0, table: 51820 });
    h.net.addRule({ family: 4, priority: 32764, table: 254, suppressPrefixLength: 0 });
    h.net.addRule({ family: 4, priority: 32765, table: 51820, fwmark: 51820, invert: true });
    h.runUntil(CAP + 1000);
    expect(h.verdicts(lan.seen)).toEqual([
      [0, 'suspect', 'source-mismatch'],
      [HOLD['source-mismatch'], 'gone', 'source-mismatch'],
    ]);
    expect(tunnel.watch.state).toBe('viable');
    expect(tunnel.watch.route?.oif).toBe(h.eth0);
  });

  it('a prohibit rule for the peer: suspect (unreachable) at once; nothing reaches the peer, so gone at the cap', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.addRule({ family: 4, priority: 100, action: 'prohibit', destination: V4.peer, destinationLength: 32 });
    h.runUntil(CAP + 1000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'unreachable'],
      [CAP, 'gone', 'unreachable'],
    ]);
  });

  it('a prohibit rule added and removed within the hold-down (rule churn): recovered', () => {
    const h = makeHost();
    const { seen, watch } = h.watch({ local: V6.local, remote: V6.peer });
    const rule = h.net.addRule({ family: 6, priority: 100, action: 'prohibit', destination: V6.peer, destinationLength: 128 });
    h.net.at(800, () => h.net.removeRule(rule));
    h.runUntil(CAP + 1000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'unreachable'],
      [800, 'recovered', 'unreachable'],
    ]);
    expect(watch.state).toBe('viable');
  });

  it('the rule that selected the table of a marked path is removed: the path falls to the main table, off its source (gone at the hold-down)', () => {
    const h = makeHost({}, (net) => {
      const eth1 = addSecondUplink(net);
      net.addRoute({ to: 'default', via: UPLINK2.gateway4, dev: eth1, table: 100 });
    });
    const rule = h.net.addRule({ family: 4, priority: 1000, table: 100, fwmark: 0x100, fwmask: 0xff00 });
    const marked = h.watch({ local: UPLINK2.v4, remote: V4.peer, mark: 0x100 });
    const eth1 = h.net.state.linkByName('eth1')!.index;
    expect(marked.watch.route).toMatchObject({ oif: eth1, table: 100 });
    h.net.at(1000, () => h.net.removeRule(rule));
    h.runUntil(CAP + 1000);
    expect(h.verdicts(marked.seen)).toEqual([
      [1000, 'suspect', 'source-mismatch'],
      [1000 + HOLD['source-mismatch'], 'gone', 'source-mismatch'],
    ]);
  });

  it('a rule change re-checks only the paths its selectors can match', () => {
    const h = makeHost();
    h.watch({ local: V4.local, remote: V4.peer });
    h.watch({ local: V6.local, remote: V6.peer });
    const checks = h.judge.counters().checks;
    h.net.addRule({ family: 4, priority: 200, table: 254, destination: '203.0.113.0', destinationLength: 24 });
    h.net.addRule({ family: 4, priority: 201, table: 254, fwmark: 7 });
    expect(h.judge.counters().checks).toBe(checks);
    h.net.addRule({ family: 4, priority: 202, table: 254, source: '192.0.2.0', sourceLength: 24 });
    expect(h.judge.counters().checks).toBe(checks + 1);
  });
});

describe('neighbour evidence', () => {
  it('the gateway fails resolution (NUD_FAILED) with the link up and no other path: suspect at once, gone at the cap', () => {
    const h = makeHost();
    const { seen, watch } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setNeighbour(h.eth0, V4.gateway, 'reachable');
    h.net.at(1000, () => h.net.setNeighbour(h.eth0, V4.gateway, 'failed'));
    // After FAILED the next packet restarts resolution: INCOMPLETE is no recovery.
    h.net.at(4000, () => h.net.setNeighbour(h.eth0, V4.gateway, 'incomplete'));
    h.net.at(7000, () => h.net.setNeighbour(h.eth0, V4.gateway, 'failed'));
    // The kernel garbage-collects the FAILED entry: no answer either.
    h.net.at(9000, () => h.net.removeNeighbour(h.eth0, V4.gateway));
    h.runUntil(CAP + 2000);
    expect(h.verdicts(seen)).toEqual([
      [1000, 'suspect', 'neighbour-failed'],
      [1000 + CAP, 'gone', 'neighbour-failed'],
    ]);
    expect(watch.evidence.map((e) => e.summary).join('\n')).toMatch(/next hop 192\.0\.2\.1 on eth0 \(index \d+\) does not answer \(neighbour FAILED\)/);
  });

  it('a second uplink the kernel does not use is no alternative: new connections would go to the failed gateway too', () => {
    const h = makeHost({}, (net) => addSecondUplink(net));
    const { seen, watch } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setNeighbour(h.eth0, V4.gateway, 'failed');
    h.runUntil(CAP + 1000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'neighbour-failed'],
      [CAP, 'gone', 'neighbour-failed'],
    ]);
    expect(watch.evidence.map((e) => e.summary).join('\n')).toMatch(/no other path reaches/);
  });

  it('a new connection through the same unanswered gateway is no alternative: a non-preferred source waits for the cap too', () => {
    const h = makeHost({}, (net) => net.addAddress(net.state.linkByName('eth0')!.index, '192.0.2.11/24'));
    const { seen, watch } = h.watch({ local: '192.0.2.11', remote: V4.peer });
    h.net.setNeighbour(h.eth0, V4.gateway, 'failed');
    // The kernel collects the FAILED entry: no answer, and no FAILED either.
    h.net.at(100, () => h.net.removeNeighbour(h.eth0, V4.gateway));
    h.runUntil(CAP + 1000);
    // New connections would leave from 192.0.2.10 through the same gateway: closing gains nothing.
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'neighbour-failed'],
      [CAP, 'gone', 'neighbour-failed'],
    ]);
    expect(watch.evidence.map((e) => e.summary).join('\n')).toMatch(/no other path reaches/);
  });

  it('the manager moves the default to the second uplink while the path waits: confirmed at once (the hold-down is long over)', () => {
    const h = makeHost({}, (net) => addSecondUplink(net));
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setNeighbour(h.eth0, V4.gateway, 'failed');
    h.net.at(5000, () => h.net.removeRoute({ to: 'default', via: V4.gateway, dev: h.eth0, protocol: 16 }));
    h.runUntil(CAP + 1000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'neighbour-failed'],
      [5000, 'suspect', 'source-mismatch'],
      [5000, 'gone', 'source-mismatch'],
    ]);
  });

  it('the gateway answers again (a router reboot): recovered; other neighbours and states touch nothing', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    // IPv6 paths through the gateway: an IPv6 LAN host's entry failing is no router's (no
    // walk of the paths through gateways), unlike the gateway's own below.
    h.watch({ local: V6.local, remote: V6.peer });
    const checks = h.judge.counters().checks;
    h.net.setNeighbour(h.eth0, '2001:db8:1::77', 'failed');
    h.net.setNeighbour(h.eth0, '192.0.2.77', 'failed');
    h.net.setNeighbour(h.eth0, V4.gateway, 'stale');
    h.net.setNeighbour(h.eth0, V4.gateway, 'delay');
    expect(h.judge.counters().checks).toBe(checks);
    h.net.setNeighbour(h.eth0, V4.gateway, 'failed');
    h.net.at(2500, () => h.net.setNeighbour(h.eth0, V4.gateway, 'reachable'));
    h.runUntil(CAP);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'neighbour-failed'],
      [2500, 'recovered', 'neighbour-failed'],
    ]);
  });
});

describe('sources the kernel accepts without an address object', () => {
  it('127.0.0.2, IPv4 and IPv6 AnyIP local routes, and a local route in another table are viable and stay so', () => {
    const h = makeHost({}, (net) => {
      const lo = net.state.linkByName('lo')!.index;
      net.addRoute({ to: '203.0.113.128/25', type: 'local', table: 255, dev: lo });
      net.addRoute({ to: '2001:db8:100::/64', type: 'local', table: 255, dev: lo });
      net.addRoute({ to: '2001:db8:300::/64', type: 'local', table: 100, dev: lo });
    });
    const paths = [
      h.watch({ local: '127.0.0.2', remote: '127.0.0.1' }),
      h.watch({ local: '203.0.113.130', remote: V4.peer }),
      h.watch({ local: '2001:db8:100::5', remote: V6.peer }),
      h.watch({ local: '2001:db8:300::5', remote: V6.peer }),
    ];
    h.net.at(100, () => h.net.addAddress(h.eth0, '192.0.2.11/24'));
    h.runUntil(CAP);
    for (const p of paths) {
      expect([p.watch.path.local, p.watch.state]).toEqual([p.watch.path.local, 'viable']);
      expect(h.verdicts(p.seen)).toEqual([]);
    }
  });

  it('an address that had an object and lost it is a removal, even while its local route lingers', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(100);
    expect(h.verdicts(seen)).toEqual([[0, 'suspect', 'local-address-removed']]);
  });
});

describe('bound device', () => {
  it('lookups carry it as oif: a more specific route through another link does not move the bound path', () => {
    const h = makeHost({}, (net) => addSecondUplink(net));
    const eth1 = h.net.state.linkByName('eth1')!.index;
    const bound = h.watch({ local: V4.local, remote: V4.peer, boundIfindex: h.eth0 });
    const unbound = h.watch({ local: V4.local, remote: V4.peer });
    expect(bound.watch.path).toEqual({ local: V4.local, remote: V4.peer, boundIfindex: h.eth0 });
    h.net.addRoute({ to: '198.51.100.0/24', via: UPLINK2.gateway4, dev: eth1 });
    h.runUntil(CAP);
    expect(h.verdicts(bound.seen)).toEqual([]);
    expect(bound.watch.route?.oif).toBe(h.eth0);
    expect(h.verdicts(unbound.seen).at(-1)).toEqual([HOLD['source-mismatch'], 'gone', 'source-mismatch']);
  });
});

describe('fresh lifetimes', () => {
  it('a renewal lost in an overflow does not expire a live address: the resync\'s lifetimes count', () => {
    const h = makeHost({}, (net, eth0) => {
      net.removeAddress(eth0, V4.local);
      net.addAddress(eth0, `${V4.local}/24`, { valid: 10 });
      net.addRoute({ to: 'default', via: V4.gateway, dev: eth0, protocol: 16 });
    });
    const { seen, watch } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.at(6000, () => h.net.overflow(() => h.net.changeAddress(h.eth0, V4.local, { valid: 600 })));
    h.runUntil(60_000);
    // The real mirror reports no event for a lifetime-only difference in a re-dump.
    expect(h.net.emitted.some((e) => e.type === 'address' && e.time === h.t0 + 6000)).toBe(false);
    expect(seen).toEqual([]);
    expect(watch.state).toBe('viable');
  });
});

describe('what `changed` means', () => {
  it('an address event of another family neither checks nor changes a path', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    const checks = h.judge.counters().checks;
    h.net.addAddress(h.eth0, '192.0.2.5/24');
    h.net.removeAddress(h.eth0, '192.0.2.5');
    expect(h.judge.counters().checks).toBe(checks);
    expect(seen).toEqual([]);
  });

  it('a path whose own address was just deleted gets suspect, never changed first', () => {
    const h = makeHost({}, (net, eth0) => net.addAddress(eth0, '2001:db8:1::20/64'));
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    h.net.removeAddress(h.eth0, V6.local);
    h.runUntil(100);
    expect(seen.map((s) => s.event)).toEqual(['suspect']);
  });
});

describe('the judge outlives its source', () => {
  class ClosingNetwork extends FakeNetwork {
    closed = false;
    override lookupRoute(query: RouteQuery): RouteLookupResult {
      if (this.closed) throw new MonitorClosedError('lookupRoute()');
      return super.lookupRoute(query);
    }
  }

  it('a lookup that throws in a timer (route expiry) ends every watch with the error\'s code; nothing throws', () => {
    const clock = new VirtualClock(1_000_000);
    const net = new ClosingNetwork(clock);
    const eth0 = net.addLink('eth0');
    net.addAddress(eth0, `${V6.local}/64`);
    net.addRoute({ to: 'default6', via: V6.gateway, dev: eth0, expires: 5 });
    const judge = new PathJudge(net, { clock });
    const watch = judge.watch({ local: V6.local, remote: V6.peer });
    const ended: Array<{ code: string }> = [];
    watch.on('ended', (e) => ended.push(e));
    net.closed = true;
    expect(() => clock.advance(10_000)).not.toThrow();
    expect(ended).toEqual([{ code: 'ERR_MONITOR_CLOSED', message: expect.stringMatching(/lookup failed.*no longer judged/) }]);
    expect(watch.state).toBe('viable');
    expect(() => judge.watch({ local: V6.local, remote: V6.peer })).toThrow(expect.objectContaining({ code: 'ERR_JUDGE_CLOSED' }));
  });

  it('a source that emits close ends the watches with ERR_MONITOR_CLOSED and cancels every timer', () => {
    const h = makeHost();
    const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setCarrier(h.eth0, false);
    const ended: Array<{ code: string }> = [];
    watch.on('ended', (e) => ended.push(e));
    h.net.emit('close');
    expect(ended.map((e) => e.code)).toEqual(['ERR_MONITOR_CLOSED']);
    h.runUntil(CAP + 1000);
    expect(h.verdicts(seen)).toEqual([[0, 'suspect', 'link-down']]);
    expect(h.clock.pending).toBe(0);
  });
});
