/** `routeguard record FILE`: live events and the kernel lookups a replay needs, as NDJSON. */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { MAX_TIMER_MS } from '../../timer-ms';
import { realClock } from '../../judge/clock';
import { boundQuery, unboundQuery } from '../../judge/path-queries';
import { PathJudge } from '../../judge/path-judge';
import { normalizePathSpec, parsePathArgument } from '../../judge/path-spec';
import { RecordingSource } from '../../replay/recording';
import { NetlinkMonitor } from '../../monitor';
import { UsageError, type CliIo } from '../io';
import { parseCommandArgs } from '../options';

const HELP = `usage: routeguard record FILE [--netns PATH] [--path LOCAL,REMOTE[,IFINDEX[,MARK]]]...
                        [--probe-interval MS] [--duration MS]

Writes a snapshot of links, addresses, routes, rules and neighbours, then every netlink event with its
time, as NDJSON (format: docs/verdicts.md), until interrupted (Ctrl-C) or --duration.
For each --path it also watches the path and records the kernel route lookups made
for it (after every relevant event, at every deadline, and every --probe-interval),
so that \`routeguard replay\` answers them exactly as the kernel did.
  --netns PATH          another network namespace (/run/netns/NAME or /proc/PID/ns/net)
  --path L,R[,IF[,M]]   a path whose lookups to record (repeatable)
  --probe-interval MS   period of the probe lookups for the paths (default 1000)
  --duration MS         stop after this long
`;

function milliseconds(name: string, text: string | undefined, fallback: number | null): number | null {
  if (text === undefined) return fallback;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 1 || ms > MAX_TIMER_MS) {
    throw new UsageError(`${name} must be a number of milliseconds from 1 to ${MAX_TIMER_MS}, got "${text}"\n\n${HELP}`);
  }
  return ms;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      netns: { type: 'string' },
      path: { type: 'string', multiple: true },
      'probe-interval': { type: 'string' },
      duration: { type: 'string' },
    },
    HELP,
    Infinity, // one FILE: checked below, with its own message
  );
  if (help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one FILE to write\n\n${HELP}`);
  const [file] = positionals;
  const netns = values.netns as string | undefined;
  const paths = ((values.path as unknown as string[] | undefined) ?? []).map(parsePathArgument);
  const probeMs = milliseconds('--probe-interval', values['probe-interval'] as string | undefined, 1000)!;
  const durationMs = milliseconds('--duration', values.duration as string | undefined, null);

  // Opened first: a path that cannot be written (no such directory, no permission) fails
  // here with its errno, before anything is started.
  const out = createWriteStream(file);
  await once(out, 'open');
  // A write that fails later (disk full) stops the recording; its error is the command's.
  let writeError: Error | null = null;
  let stop = (): void => undefined;
  out.on('error', (err) => {
    writeError ??= err;
    stop();
  });
  const monitor = new NetlinkMonitor({ netns, signal: io.signal });
  const counts = { event: 0, lookup: 0 };
  try {
    await monitor.start();
    const recorder = new RecordingSource(
      monitor,
      (line) => {
        if (line.kind === 'event' || line.kind === 'lookup') counts[line.kind]++;
        out.write(`${JSON.stringify(line)}\n`);
      },
      realClock,
    );
    recorder.begin({ netns: netns ?? null, paths, probeIntervalMs: paths.length ? probeMs : null });
    const judge = new PathJudge(recorder);
    const normalized = paths.map((p) => {
      judge.watch(p);
      return normalizePathSpec(p);
    });
    const probe = normalized.length
      ? setInterval(() => {
          for (const p of normalized) {
            recorder.lookupRoute(boundQuery(p));
            recorder.lookupRoute(unboundQuery(p));
          }
        }, probeMs)
      : null;
    io.stderr.write(`recording to ${file}${durationMs ? ` for ${durationMs} ms` : ' (Ctrl-C to stop)'}\n`);
    await new Promise<void>((resolve) => {
      stop = resolve;
      if (io.signal.aborted || writeError) return resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
      if (durationMs !== null) setTimeout(resolve, durationMs).unref();
    });
    if (probe) clearInterval(probe);
    judge.close();
    recorder.end();
  } finally {
    monitor.close();
    if (!writeError) await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    else out.destroy();
  }
  if (writeError) throw writeError;
  io.stderr.write(`recorded ${counts.event} events and ${counts.lookup} lookups to ${file}\n`);
  return 0;
}
