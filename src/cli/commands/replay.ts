/** `routeguard replay FILE --path L,R`: a recorded path's verdict timeline under virtual time. */
import { readFile } from 'node:fs/promises';
import { parseHoldDowns } from '../../judge/hold-downs';
import { PathJudge } from '../../judge/path-judge';
import { parsePathArgument } from '../../judge/path-spec';
import { readRecording } from '../../replay/recording';
import { ReplaySource } from '../../replay/replay';
import { printTimeline } from '../timeline';
import { UsageError, type CliIo } from '../io';
import { parseCommandArgs } from '../options';

const HELP = `usage: routeguard replay FILE [--path LOCAL,REMOTE[,IFINDEX[,MARK]]] [--hold-down MS|REASON=MS]...
                        [--json] [--evidence]

Plays a recording made by \`routeguard record\` under virtual time and prints the
path's verdicts (suspect, recovered, gone, changed) with their times and reasons.
Lookups come from the recording when it has them, else from the recorded routes.
  --path L,R[,IF[,M]]   the path to judge (default: the recording's only --path)
  --hold-down MS        every hold-down; REASON=MS for one (e.g. link-down=2000); repeatable
  --json                NDJSON, one verdict per line
  --evidence            print each verdict's evidence timeline
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      path: { type: 'string' },
      'hold-down': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      evidence: { type: 'boolean' },
    },
    HELP,
    Infinity, // one FILE: checked below, with its own message
  );
  if (help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one FILE to replay\n\n${HELP}`);
  const { lines, skipped } = readRecording(await readFile(positionals[0], 'utf8'));
  // Replayed around its bad lines (a last line cut short when the recorder was killed), said first.
  for (const { line, why } of skipped) io.stderr.write(`routeguard replay: ${positionals[0]} line ${line} left out: ${why}\n`);
  const source = new ReplaySource(lines);
  const pathText = values.path as string | undefined;
  const recorded = source.header.paths;
  if (!pathText && recorded.length !== 1) {
    throw new UsageError(
      `give --path LOCAL,REMOTE (the recording has ${recorded.length ? `paths ${recorded.map((p) => `${p.local},${p.remote}`).join(' ')}` : 'no recorded paths'})\n\n${HELP}`,
    );
  }
  const spec = pathText ? parsePathArgument(pathText) : recorded[0];
  const holdDowns = parseHoldDowns((values['hold-down'] as unknown as string[] | undefined) ?? []);
  const judge = new PathJudge(source, { clock: source.clock, holdDowns });
  const watch = judge.watch(spec);
  const write = (line: string) => io.stdout.write(line);
  const options = { json: !!values.json, evidence: !!values.evidence };
  if (!options.json) {
    const span = ((source.endTime - source.startTime) / 1000).toFixed(3);
    write(`# ${positionals[0]}: ${source.eventCount} events over ${span} s${source.header.netns ? ` in ${source.header.netns}` : ''}\n`);
  }
  printTimeline(watch, source.state, () => source.clock.now(), source.startTime, write, options);
  source.play();
  const c = judge.counters();
  const summary = {
    state: watch.state,
    reason: watch.reason,
    lookups: source.lookupStats,
    churnSuppressed: Object.fromEntries(Object.entries(c.churnSuppressed).filter(([, n]) => n > 0)),
  };
  if (options.json) {
    write(`${JSON.stringify({ at: source.endTime - source.startTime, event: 'end', ...summary })}\n`);
  } else {
    const pending = watch.state === 'suspect' ? ' (the recording ended inside the hold-down)' : '';
    write(
      `# end: ${watch.state}${watch.reason ? ` (${watch.reason})` : ''}${pending}; ` +
        `lookups ${source.lookupStats.recorded} recorded, ${source.lookupStats.derived} derived from the recorded routes\n`,
    );
  }
  judge.close();
  return 0;
}
