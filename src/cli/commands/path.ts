/** `routeguard path --to REMOTE`: watch one path live and print its verdicts with reasons. */
import { realClock } from '../../judge/clock';
import { parseHoldDowns } from '../../judge/hold-downs';
import { PathJudge } from '../../judge/path-judge';
import { printTimeline } from '../timeline';
import type { PathSpec } from '../../judge/types';
import { NetlinkMonitor } from '../../monitor';
import { RouteguardError } from '../../errors';
import { UsageError, type CliIo } from '../io';
import { NETNS_JSON_OPTIONS, parseCommandArgs } from '../options';

const HELP = `usage: routeguard path --to REMOTE [--from LOCAL] [--dev NAME | --ifindex N] [--mark M]
                      [--bound-dev NAME] [--netns PATH] [--hold-down MS|REASON=MS]... [--json] [--evidence]

Watches the path from LOCAL (default: the source the kernel picks for REMOTE) to
REMOTE and prints each change of state (suspect, recovered, gone) and of route
(changed) with its reason, until the path is gone or you interrupt (Ctrl-C).
  --to REMOTE       the peer address
  --from LOCAL      the local address (default: the kernel's preferred source)
  --dev NAME        the interface (needed for link-local addresses); or --ifindex N
  --mark M          the fwmark the connection's traffic carries
  --bound-dev NAME  the device the socket is bound to (SO_BINDTODEVICE, a VRF): lookups use it as oif
  --netns PATH      another network namespace (/run/netns/NAME or /proc/PID/ns/net)
  --hold-down MS    every hold-down; REASON=MS for one (e.g. link-down=2000); repeatable
  --json            NDJSON, one verdict per line
  --evidence        print each verdict's evidence timeline
`;

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  // Decimal digits only: Number() would read "" as 0 and take 0x10 or 1e3.
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${name} must be an integer >= 0 in decimal digits, got "${text}"\n\n${HELP}`);
  return n;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, help } = parseCommandArgs(
    argv,
    {
      to: { type: 'string' },
      from: { type: 'string' },
      dev: { type: 'string' },
      ifindex: { type: 'string' },
      mark: { type: 'string' },
      'bound-dev': { type: 'string' },
      ...NETNS_JSON_OPTIONS,
      'hold-down': { type: 'string', multiple: true },
      evidence: { type: 'boolean' },
    },
    HELP,
  );
  if (help) {
    io.stdout.write(help);
    return 0;
  }
  const to = values.to as string | undefined;
  if (!to) throw new UsageError(`--to REMOTE is required\n\n${HELP}`);
  if (values.dev && values.ifindex) throw new UsageError(`give --dev or --ifindex, not both\n\n${HELP}`);
  const mark = integer('--mark', values.mark as string | undefined);
  const holdDowns = parseHoldDowns((values['hold-down'] as unknown as string[] | undefined) ?? []);

  // The judge asks the kernel for routes (RTM_GETROUTE) and follows route notifications:
  // no route table, so a host with a full Internet table starts as fast as an empty one.
  const monitor = new NetlinkMonitor({ netns: values.netns as string | undefined, routes: 'events', signal: io.signal });
  try {
    await monitor.start();
    let ifindex = integer('--ifindex', values.ifindex as string | undefined);
    if (values.dev) {
      ifindex = monitor.state.linkByName(values.dev as string)?.index;
      if (ifindex === undefined) throw new UsageError(`no interface named "${values.dev}" (see \`ip link\`)`);
    }
    let boundIfindex: number | undefined;
    if (values['bound-dev']) {
      boundIfindex = monitor.state.linkByName(values['bound-dev'] as string)?.index;
      if (boundIfindex === undefined) throw new UsageError(`no interface named "${values['bound-dev']}" (see \`ip link\`)`);
    }
    let from = values.from as string | undefined;
    if (!from) {
      const oif = boundIfindex ?? ifindex;
      const answer = monitor.lookupRoute({ to, ...(oif !== undefined ? { oif } : {}), ...(mark !== undefined ? { mark } : {}) });
      if (!answer.ok || !answer.route.preferredSource) {
        throw new RouteguardError(
          'ERR_NO_SOURCE',
          `the kernel has no source address for ${to} (${answer.ok ? 'no preferred source' : answer.message}); give --from LOCAL`,
        );
      }
      from = answer.route.preferredSource;
    }
    const spec: PathSpec = { local: from, remote: to };
    if (ifindex !== undefined) spec.ifindex = ifindex;
    if (mark !== undefined) spec.mark = mark;
    if (boundIfindex !== undefined) spec.boundIfindex = boundIfindex;
    const judge = new PathJudge(monitor, { holdDowns });
    const watch = judge.watch(spec);
    printTimeline(watch, monitor.state, realClock.now, realClock.now(), (line) => io.stdout.write(line), {
      json: !!values.json,
      evidence: !!values.evidence,
    });
    await new Promise<void>((resolve) => {
      if (io.signal.aborted || watch.state === 'gone') return resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
      watch.once('gone', () => resolve());
      watch.once('ended', () => resolve());
    });
    judge.close();
    return 0;
  } finally {
    monitor.close();
  }
}
