/** `routeguard dump [--json] [--netns PATH]`: links, addresses, routes of all tables, nexthops, rules, neighbours. */
import { NetlinkMonitor } from '../../monitor';
import { formatAddress, formatLink, formatNeighbour, formatNexthop, formatRoute, formatRule } from '../format';
import { ChunkedOutput } from '../chunked-output';
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
  const netns = values.netns as string | undefined;
  if (values.json) return dumpJson(netns, io);
  const monitor = new NetlinkMonitor({ netns, confirmDelayMs: false, signal: io.signal });
  try {
    await monitor.start();
    const state = monitor.state;
    const out = new ChunkedOutput(io.stdout);
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

/**
 * The same text as JSON.stringify({ links, addresses, routes, nexthops, rules, neighbours }),
 * written as it goes. Routes are not mirrored (routes: 'stream'): the addon formats the
 * dumped routes as JSON straight from their records into one reused buffer
 * (onDumpedRoutesJson), each chunk written at once, while the addon's reader thread reads
 * on, so the kernel's time and the formatting overlap. Links and addresses are dumped before routes, so they are
 * complete when the first routes come.
 */
async function dumpJson(netns: string | undefined, io: CliIo): Promise<number> {
  const out = new ChunkedOutput(io.stdout);
  let routesOpen = false;
  const json = (item: unknown) => JSON.stringify(item);
  const openRoutes = () => {
    if (routesOpen) return false;
    routesOpen = true;
    out.add('{"links":[');
    out.addAllNow(monitor.state.links(), json, ',');
    out.add('],"addresses":[');
    out.addAllNow(monitor.state.addresses(), json, ',');
    out.add('],"routes":[');
    return true;
  };
  const monitor: NetlinkMonitor = new NetlinkMonitor({
    netns,
    confirmDelayMs: false,
    signal: io.signal,
    routes: 'stream',
    // Each route's text starts with a comma: the first chunk's first one is dropped.
    onDumpedRoutesJson: (text) => out.writeTransient(openRoutes() ? text.subarray(1) : text),
  });
  try {
    await monitor.start();
    openRoutes();
    const state = monitor.state;
    const rest: Array<[string, Iterable<unknown>]> = [
      ['nexthops', state.nexthops()],
      ['rules', [...state.rules(4), ...state.rules(6)]],
      ['neighbours', state.neighbours()],
    ];
    for (const [name, items] of rest) {
      out.add(`],"${name}":[`);
      await out.addAll(items, json, ',');
    }
    out.add(']}\n');
    await out.flush();
    if (monitor.stats().dumpRetries > 0) {
      io.stderr.write('routeguard: the kernel interrupted a dump with concurrent changes and it was restarted: entries may repeat\n');
    }
    return 0;
  } finally {
    monitor.close();
  }
}
