/**
 * routeJson() (what `routeguard dump --json` writes per route) is JSON.stringify(route),
 * character for character, on every captured route message: plain, blackhole, table 100,
 * multipath, nexthop object, IPv6 gateway of an IPv4 route, IPv6 with expiry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { routeJson } from '../src/cli/route-json';
import { loadBinding } from '../src/native/binding';
import { decodeBatch } from '../src/netlink/decode';
import type { Route } from '../src/netlink/types';

const dir = path.resolve(__dirname, 'fixtures', 'netlink');

it('writes every captured route exactly as JSON.stringify does', () => {
  const binding = loadBinding();
  const routes: Route[] = [];
  for (const file of readdirSync(dir).filter((f) => /^route[46]-.*\.bin$/.test(f))) {
    for (const r of decodeBatch(binding.parse(new Uint8Array(readFileSync(path.join(dir, file)))))) {
      if (r.kind === 'route') routes.push(r.route);
    }
  }
  expect(routes.length).toBeGreaterThan(5);
  expect(routes.some((r) => r.multipath !== null && r.expires === null)).toBe(true);
  expect(routes.some((r) => r.family === 6 && r.expires !== null)).toBe(true);
  for (const r of routes) expect(routeJson(r)).toBe(JSON.stringify(r));
});
