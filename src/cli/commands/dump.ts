/** `routeguard dump [--json] [--netns PATH]`: links, addresses, routes of all tables, nexthops, rules, neighbours. */
import { NetlinkMonitor } from '../../monitor';
import { formatAddress, formatLink, formatNeighbour, formatNexthop, formatRoute, formatRule } from '../format';
import { ChunkedOutput } from '../chunked-output';
import { routeJson } from '../route-json';
import type { CliIo } from '../io';
import { NETNS_JSON_OPTIONS, parseCommandArgs } from '../options';

const HELP = `usage: routeguard dump [--json] [--netns PATH]

Prints the current links, addresses, routes of all tables, nexthop objects,
policy routing rules and neighbours (the facts \`ip -j link/addr/route show
table all\`, \`ip -j rule\`, \`ip -6 -j rule\` and \`ip -j neigh show nud all\` give).
  --json         one JSON object { links, addresses, routes, nexthops, rules, neighbours }
  --netns PATH   another network namespace (/run/netns/NAME or /proc/PID/ns/net)
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, help } = parseCommandArgs(argv, NETNS_JSON_OPTIONS, HELP);
  if (help) {
    io.stdout.write(help);
    return 0;
  }
  const monitor = new NetlinkMonitor({ netns: values.netns as string | undefined, confirmDelayMs: false, signal: io.signal });
  try {
    await monitor.start();
    const state = monitor.state;
    const out = new ChunkedOutput(io.stdout);
    if (values.json) {
      // The same text as JSON.stringify({ links, addresses, routes, ... }), written as it goes.
      const json = (item: unknown) => JSON.stringify(item);
      const sections: Array<[string, Iterable<unknown>, (item: never) => string]> = [
        ['links', state.links(), json],
        ['addresses', state.addresses(), json],
        ['routes', state.routes(), routeJson],
        ['nexthops', state.nexthops(), json],
        ['rules', [...state.rules(4), ...state.rules(6)], json],
        ['neighbours', state.neighbours(), json],
      ];
      for (const [i, [name, items, text]] of sections.entries()) {
        out.add(`${i === 0 ? '{' : '],'}"${name}":[`);
        await out.addAll(items as Iterable<never>, text, ',');
      }
      out.add(']}\n');
      await out.flush();
      return 0;
    }
    const dev = (i: number) => state.link(i)?.name ?? `if${i}`;
    // Every line ends with a newline; an empty line between sections.
    const section = async <T>(title: string, items: Iterable<T>, text: (item: T) => string, first = false) => {
      out.add(`${first ? '' : '\n'}# ${title}\n`);
      await out.addAll(items, (item) => `${text(item)}\n`, '');
    };
    await section('links', state.links(), formatLink, true);
    await section('addresses', state.addresses(), (a) => formatAddress(a, dev));
    await section('routes', state.routes(), (r) => formatRoute(r, dev));
    const nexthops = [...state.nexthops()];
    if (nexthops.length > 0) await section('nexthops', nexthops, (n) => formatNexthop(n, dev));
    await section('rules', state.rules(4), formatRule);
    await section('rules (inet6)', state.rules(6), formatRule);
    await section('neighbours', state.neighbours(), (n) => formatNeighbour(n, dev));
    await out.flush();
    return 0;
  } finally {
    monitor.close();
  }
}
