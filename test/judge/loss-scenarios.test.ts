/**
 * Real losses: the judge must declare them gone, with the right reason, under a
 * virtual clock: at the hold-down's end when another path reaches the peer (or
 * earlier on replacement / foreseen expiry), at the cap when nothing does.
 */
import { describe, expect, it } from 'vitest';
import { JUDGE_DEFAULTS } from '../../src/judge/hold-downs';
import { IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_PERMANENT, IFA_F_TEMPORARY, IFA_F_TENTATIVE } from '../../src/netlink/flags';
import { addSecondUplink, CAP, HOLD, makeHost, UPLINK2, V4, V6 } from './scenario-helpers';

describe('carrier and links', () => {
  it('carrier lost for good on the only uplink: suspect at once, patient to the cap, then gone (link-down)', () => {
    const h = makeHost();
    const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setCarrier(h.eth0, false);
    h.runUntil(60_000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'link-down'],
      [CAP, 'gone', 'link-down'],
    ]);
    expect(watch.state).toBe('gone');
    expect(watch.evidence.map((e) => e.summary).join('\n')).toMatch(/no other path reaches 198\.51\.100\.7/);
    expect(h.judge.counters().extensions).toBe(1);
  });

  it('admin down on the only uplink (IPv4 routes flushed silently, IPv6 address dropped): both gone at the cap', () => {
    const h = makeHost();
    const v4 = h.watch({ local: V4.local, remote: V4.peer });
    const v6 = h.watch({ local: V6.local, remote: V6.peer });
    h.net.setAdminUp(h.eth0, false);
    h.runUntil(60_000);
    for (const { seen } of [v4, v6]) expect(seen.at(-1)).toEqual({ at: CAP, event: 'gone', reason: 'link-down' });
  });

  it('admin down with a second uplink carrying the peers: confirmed at the hold-down (IPv4: the source no longer fits)', () => {
    const h = makeHost({}, (net) => addSecondUplink(net));
    const v4 = h.watch({ local: V4.local, remote: V4.peer });
    const v6 = h.watch({ local: V6.local, remote: V6.peer });
    h.net.setAdminUp(h.eth0, false);
    h.runUntil(60_000);
    // IPv4 keeps its address on the down link; the lookup from it now leaves through eth1.
    expect(h.verdicts(v4.seen)).toEqual([
      [0, 'suspect', 'source-mismatch'],
      [HOLD['source-mismatch'], 'gone', 'source-mismatch'],
    ]);
    // IPv6: the link event (routes unusable: the source no longer fits) precedes the address's removal.
    expect(v6.seen[0]).toMatchObject({ at: 0, event: 'suspect' });
    expect(v6.seen.at(-1)).toEqual({ at: HOLD['link-down'], event: 'gone', reason: 'link-down' });
  });

  it('link deleted, nothing else reaches the peer: patient to the cap (a tunnel may come back)', () => {
    const h = makeHost();
    const v6 = h.watch({ local: V6.local, remote: V6.peer });
    const ll = h.watch({ local: 'fe80::10', remote: 'fe80::1', ifindex: h.eth0 });
    h.net.removeLink(h.eth0);
    h.runUntil(60_000);
    for (const { seen, watch } of [v6, ll]) {
      expect(seen[0]).toMatchObject({ at: 0, event: 'suspect' });
      expect(seen.at(-1)).toEqual({ at: CAP, event: 'gone', reason: 'link-removed' });
      expect(watch.evidence.some((e) => e.event?.type === 'link' && e.event.action === 'removed')).toBe(true);
    }
  });

  it('link deleted with a second uplink: gone (link-removed) 500 ms after the first evidence', () => {
    const h = makeHost({}, (net) => addSecondUplink(net));
    const v4 = h.watch({ local: V4.local, remote: V4.peer });
    const v6 = h.watch({ local: V6.local, remote: V6.peer });
    h.net.removeLink(h.eth0);
    h.runUntil(60_000);
    for (const { seen } of [v4, v6]) expect(seen.at(-1)).toEqual({ at: HOLD['link-removed'], event: 'gone', reason: 'link-removed' });
  });

  it('dhcpcd flap after which the addresses never return: patience is capped, gone at the cap', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setCarrier(h.eth0, false);
    h.net.at(10, () => h.net.removeAddress(h.eth0, V4.local));
    h.net.at(300, () => h.net.setCarrier(h.eth0, true));
    h.runUntil(60_000);
    expect(seen.at(-1)).toEqual({ at: CAP, event: 'gone', reason: 'local-address-removed' });
    expect(h.judge.counters().extensions).toBe(1);
  });
});

describe('addresses', () => {
  it('DHCP release on the only uplink (address and routes deleted, nothing comes back): gone at the cap', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(60_000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'local-address-removed'],
      [CAP, 'gone', 'local-address-removed'],
    ]);
  });

  it('DHCP release with a second uplink: gone at the hold-down (a reconnect would work now)', () => {
    const h = makeHost({}, (net) => addSecondUplink(net));
    const { seen, watch } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(60_000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'local-address-removed'],
      [HOLD['local-address-removed'], 'gone', 'local-address-removed'],
    ]);
    expect(watch.evidence.map((e) => e.summary).join('\n')).toMatch(/a new connection would go through eth1 \(index \d+\) from 203\.0\.113\.10/);
  });

  it('a new lease (another IPv4 address on the interface, old one not back): replacement confirms early', () => {
    const h = makeHost();
    const { seen, watch } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.net.at(400, () => {
      h.net.addAddress(h.eth0, '192.0.2.77/24');
      h.net.addRoute({ to: 'default', via: V4.gateway, dev: h.eth0, protocol: 16 });
    });
    h.runUntil(60_000);
    expect(seen.at(-1)).toEqual({ at: 400 + HOLD['local-address-replaced'], event: 'gone', reason: 'local-address-replaced' });
    expect(watch.evidence.map((e) => e.summary).join('\n')).toMatch(/configured again with 192\.0\.2\.77/);
    expect(h.judge.counters().earlyConfirmations).toBe(1);
  });

  it('NetworkManager re-adding two addresses in turn is not replacement (both were there before)', () => {
    const h = makeHost({}, (net, eth0) => net.addAddress(eth0, '192.0.2.11/24'));
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, '192.0.2.11');
    h.net.removeAddress(h.eth0, V4.local);
    h.net.at(50, () => h.net.addAddress(h.eth0, '192.0.2.11/24'));
    h.net.at(51, () => h.net.addAddress(h.eth0, `${V4.local}/24`));
    h.net.at(53, () => h.net.addRoute({ to: 'default', via: V4.gateway, dev: h.eth0, protocol: 16 }));
    h.runUntil(10_000);
    expect(seen.some((s) => s.event === 'gone')).toBe(false);
    // 192.0.2.11, re-added first, is now the primary address: new connections would use it.
    expect(seen.map((s) => [s.at, s.event, s.source])).toEqual([
      [0, 'suspect', undefined],
      [51, 'suspect', undefined],
      [53, 'recovered', undefined],
      [53, 'changed', '192.0.2.11'],
    ]);
  });

  it('privacy address replaced for good by a reapply: gone (replaced) once the new temporary address is usable', () => {
    const temp = '2001:db8:1::d1ce';
    const h = makeHost({}, (net, eth0) => net.addAddress(eth0, `${temp}/64`, { flags: IFA_F_TEMPORARY, valid: 3600, preferred: 1800 }));
    const old = h.watch({ local: temp, remote: V6.peer });
    const stable = h.watch({ local: V6.local, remote: V6.peer });
    h.net.removeAddress(h.eth0, temp);
    h.net.removeAddress(h.eth0, V6.local);
    h.net.at(1500, () => {
      h.net.addAddress(h.eth0, `${V6.local}/64`, { flags: IFA_F_PERMANENT | IFA_F_TENTATIVE });
      h.net.addAddress(h.eth0, '2001:db8:1::5eed/64', { flags: IFA_F_TEMPORARY | IFA_F_TENTATIVE, valid: 3600, preferred: 1800 });
    });
    h.net.at(2600, () => {
      h.net.changeAddress(h.eth0, V6.local, { flags: IFA_F_PERMANENT });
      h.net.changeAddress(h.eth0, '2001:db8:1::5eed', { flags: IFA_F_TEMPORARY });
    });
    h.runUntil(60_000);
    expect(old.seen.at(-1)).toEqual({ at: 2600 + HOLD['local-address-replaced'], event: 'gone', reason: 'local-address-replaced' });
    expect(stable.watch.state).toBe('viable');
    expect(stable.seen.map((s) => s.event)).toEqual(['suspect', 'recovered']);
  });

  it('temporary address rotated out at the end of its valid lifetime: foreseen, gone (expired) 1 s after', () => {
    const temp = '2001:db8:1::d1ce';
    const h = makeHost({}, (net, eth0) => net.addAddress(eth0, `${temp}/64`, { flags: IFA_F_TEMPORARY, valid: 20, preferred: 15 }));
    const { seen } = h.watch({ local: temp, remote: V6.peer });
    h.net.at(10_000, () => h.net.addAddress(h.eth0, '2001:db8:1::5eed/64', { flags: IFA_F_TEMPORARY, valid: 600, preferred: 300 }));
    h.net.at(15_000, () => h.net.changeAddress(h.eth0, temp, { flags: IFA_F_TEMPORARY | IFA_F_DEPRECATED, preferred: 0, valid: 5 }));
    h.net.at(20_300, () => h.net.removeAddress(h.eth0, temp)); // the kernel's deletion, a little late
    h.runUntil(60_000);
    expect(seen.filter((s) => s.event !== 'changed').map((s) => [s.at, s.event, s.reason])).toEqual([
      [20_000, 'suspect', 'local-address-expired'],
      [20_000 + HOLD['local-address-expired'], 'gone', 'local-address-expired'],
    ]);
  });

  it('DHCP lease expiry without renewal: suspect at the foreseen end, gone 1 s later', () => {
    const h = makeHost({}, (net, eth0) => {
      net.removeAddress(eth0, V4.local);
      net.addAddress(eth0, `${V4.local}/24`, { valid: 10 });
      net.addRoute({ to: 'default', via: V4.gateway, dev: eth0, protocol: 16 });
    });
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.at(10_000, () => h.net.removeAddress(h.eth0, V4.local));
    h.runUntil(60_000);
    expect(seen.map((s) => [s.at, s.event, s.reason])).toEqual([
      [10_000, 'suspect', 'local-address-expired'],
      [11_000, 'gone', 'local-address-expired'],
    ]);
  });

  it('a renewal arriving after the foreseen end still wins', () => {
    const h = makeHost({}, (net, eth0) => {
      net.removeAddress(eth0, V4.local);
      net.addAddress(eth0, `${V4.local}/24`, { valid: 10 });
      net.addRoute({ to: 'default', via: V4.gateway, dev: eth0, protocol: 16 });
    });
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.at(10_400, () => h.net.changeAddress(h.eth0, V4.local, { valid: 600 }));
    h.runUntil(60_000);
    expect(seen.map((s) => [s.at, s.event, s.reason])).toEqual([
      [10_000, 'suspect', 'local-address-expired'],
      [10_400, 'recovered', 'local-address-expired'],
    ]);
  });

  it('re-added address that fails DAD: recovered when re-added, then gone (dadfailed)', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    h.net.removeAddress(h.eth0, V6.local);
    h.net.at(1500, () => h.net.addAddress(h.eth0, `${V6.local}/64`, { flags: IFA_F_PERMANENT | IFA_F_TENTATIVE }));
    h.net.at(2700, () => h.net.changeAddress(h.eth0, V6.local, { flags: IFA_F_PERMANENT | IFA_F_TENTATIVE | IFA_F_DADFAILED }));
    h.runUntil(60_000);
    expect(seen.map((s) => [s.at, s.event, s.reason])).toEqual([
      [0, 'suspect', 'local-address-removed'],
      [1500, 'recovered', 'local-address-removed'],
      [2700, 'suspect', 'local-address-dadfailed'],
      [2700 + HOLD['local-address-dadfailed'], 'gone', 'local-address-dadfailed'],
    ]);
  });
});

describe('routes', () => {
  it('RA expiry: the default route expires at 30 s, the kernel deletes it only at 55 s: suspect at 30 s, gone at the cap', () => {
    const h = makeHost({}, (net, eth0) => {
      net.removeRoute({ to: 'default6', via: V6.gateway, dev: eth0 });
      net.addRoute({ to: 'default6', via: V6.gateway, dev: eth0, protocol: 9, expires: 30 });
    });
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    h.net.at(55_000, () => h.net.removeRoute({ to: 'default6', via: V6.gateway, dev: h.eth0 }));
    h.runUntil(90_000);
    expect(h.verdicts(seen)).toEqual([
      [30_000, 'suspect', 'no-route'],
      [30_000 + CAP, 'gone', 'no-route'],
    ]);
  });

  it('RA refreshes the route silently, then the router falls silent: the loss is seen within routeRecheckMs of the real expiry', () => {
    const h = makeHost({}, (net, eth0) => {
      net.removeRoute({ to: 'default6', via: V6.gateway, dev: eth0 });
      net.addRoute({ to: 'default6', via: V6.gateway, dev: eth0, protocol: 9, expires: 30 });
    });
    const route = { to: 'default6', via: V6.gateway, dev: h.eth0, protocol: 9 };
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    // RAs every 10 s until 40 s: the route's last lifetime ends at 70 s; the kernel deletes it at 95 s.
    for (let t = 10_000; t <= 40_000; t += 10_000) h.net.at(t, () => h.net.refreshRouteExpiry(route, 30));
    h.net.at(95_000, () => h.net.removeRoute(route));
    h.runUntil(200_000);
    const suspect = seen.find((s) => s.event === 'suspect')!;
    expect(suspect.reason).toBe('no-route');
    expect(suspect.at).toBeGreaterThanOrEqual(70_000);
    expect(suspect.at).toBeLessThanOrEqual(70_000 + JUDGE_DEFAULTS.routeRecheckMs);
    expect(seen.at(-1)).toEqual({ at: suspect.at + CAP, event: 'gone', reason: 'no-route' });
  });

  it('router lifetime 0 on the only uplink (default route removed at once): gone at the cap', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    h.net.removeRoute({ to: 'default6', via: V6.gateway, dev: h.eth0 });
    h.runUntil(60_000);
    expect(seen.at(-1)).toEqual({ at: CAP, event: 'gone', reason: 'no-route' });
  });

  it('an unreachable route installed for the peer: suspect at once, gone at the cap (nothing reaches it)', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.addRoute({ to: `${V4.peer}/32`, type: 'unreachable' });
    h.runUntil(60_000);
    expect(h.verdicts(seen)).toEqual([
      [0, 'suspect', 'unreachable'],
      [CAP, 'gone', 'unreachable'],
    ]);
  });

  it('ECMP: one nexthop removed while another on the same link remains: no suspicion', () => {
    const h = makeHost();
    const ecmp = { to: '198.51.100.0/24', nexthops: [{ via: V4.gateway, dev: h.eth0 }, { via: '192.0.2.2', dev: h.eth0 }] };
    h.net.addRoute(ecmp);
    const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
    const used = watch.route!.gateway;
    h.net.setNexthops(ecmp, ecmp.nexthops.filter((n) => n.via !== used));
    h.runUntil(20_000);
    expect(seen).toEqual([]);
    expect(watch.state).toBe('viable');
  });

  it('ECMP across two uplinks: the path pushed off its own link is lost (source-mismatch); the other stays viable', () => {
    const h = makeHost({}, (net) => {
      const eth1 = net.addLink('eth1');
      net.addAddress(eth1, `${UPLINK2.v4}/24`);
    });
    const eth1 = h.net.state.linkByName('eth1')!.index;
    const ecmp = { to: '198.51.100.0/24', nexthops: [{ via: V4.gateway, dev: h.eth0 }, { via: UPLINK2.gateway4, dev: eth1 }] };
    h.net.addRoute(ecmp);
    const fromEth0 = h.watch({ local: V4.local, remote: V4.peer });
    expect(fromEth0.watch.route!.oif).toBe(h.eth0);
    h.net.setNexthops(ecmp, [{ via: UPLINK2.gateway4, dev: eth1 }]);
    const fromEth1 = h.watch({ local: UPLINK2.v4, remote: V4.peer });
    h.runUntil(20_000);
    expect(h.verdicts(fromEth0.seen)).toEqual([
      [0, 'suspect', 'source-mismatch'],
      [HOLD['source-mismatch'], 'gone', 'source-mismatch'],
    ]);
    expect(fromEth1.watch.state).toBe('viable');
  });
});
