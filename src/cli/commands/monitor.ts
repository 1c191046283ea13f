/** `routeguard monitor [--json] [--netns PATH]`: live events, one per line, until interrupted. */
import { NetlinkMonitor } from '../../monitor';
import { formatEvent } from '../format';
import type { CliIo } from '../io';
import { NETNS_JSON_OPTIONS, parseCommandArgs } from '../options';

const HELP = `usage: routeguard monitor [--json] [--netns PATH]

Prints link, address, route, nexthop, rule and neighbour events as they happen,
with timestamps, until interrupted (Ctrl-C).
  --json         NDJSON: one event object per line
  --netns PATH   another network namespace (/run/netns/NAME or /proc/PID/ns/net)
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, help } = parseCommandArgs(argv, NETNS_JSON_OPTIONS, HELP);
  if (help) {
    io.stdout.write(help);
    return 0;
  }
  const monitor = new NetlinkMonitor({ netns: values.netns as string | undefined, signal: io.signal });
  const dev = (i: number) => monitor.state.link(i)?.name ?? `if${i}`;
  const started = monitor.start();
  for await (const event of monitor) {
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...event, time: new Date(event.time).toISOString() })}\n`);
    } else {
      io.stdout.write(`${new Date(event.time).toISOString()} ${formatEvent(event, dev)}\n`);
    }
  }
  try {
    await started;
  } catch (err) {
    // Interrupted before the first sync is an ordinary end; a monitor that could not
    // start (a bad namespace, no permission, not Linux) is the command's error.
    if (io.signal.aborted) return 0;
    throw err;
  }
  return 0;
}
