/** `routeguard dump [--json] [--netns PATH]`: links, addresses, routes of all tables, nexthops, rules, neighbours. */
import { NetlinkMonitor } from '../../monitor';
import { formatAddress, formatLink, formatNeighbour, formatNexthop, formatRoute, formatRule } from '../format';
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
    const snap = monitor.state.snapshot();
    if (values.json) {
      io.stdout.write(`${JSON.stringify(snap)}\n`);
      return 0;
    }
    const dev = (i: number) => monitor.state.link(i)?.name ?? `if${i}`;
    const out: string[] = ['# links', ...snap.links.map(formatLink), '', '# addresses'];
    out.push(...snap.addresses.map((a) => formatAddress(a, dev)), '', '# routes');
    out.push(...snap.routes.map((r) => formatRoute(r, dev)));
    if (snap.nexthops.length > 0) out.push('', '# nexthops', ...snap.nexthops.map((n) => formatNexthop(n, dev)));
    out.push('', '# rules', ...monitor.state.rules(4).map(formatRule));
    out.push('', '# rules (inet6)', ...monitor.state.rules(6).map(formatRule));
    out.push('', '# neighbours', ...snap.neighbours.map((n) => formatNeighbour(n, dev)));
    io.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    monitor.close();
  }
}
