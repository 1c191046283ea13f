/** Record (through RecordingSource) and replay (ReplaySource, `routeguard replay`) under virtual time. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { run as replayCommand } from '../../src/cli/commands/replay';
import { PathJudge } from '../../src/judge/path-judge';
import { parseRecording, readRecording, RecordingSource, type RecordingLine } from '../../src/replay/recording';
import { ReplaySource } from '../../src/replay/replay';
import type { PathSpec, PathWatch } from '../../src/judge/types';
import { IFA_F_PERMANENT, IFA_F_TENTATIVE } from '../../src/netlink/flags';
import { addSecondUplink, makeHost, V4, V6 } from './scenario-helpers';

const dir = mkdtempSync(join(tmpdir(), 'rg-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verdicts(watch: PathWatch, now: () => number, start: number): string[] {
  const out: string[] = [];
  watch.on('suspect', (i) => out.push(`${now() - start} suspect ${i.reason} ${i.deadline - start}`));
  watch.on('recovered', (i) => out.push(`${now() - start} recovered ${i.reason}`));
  watch.on('gone', (i) => out.push(`${now() - start} gone ${i.reason}`));
  watch.on('changed', (i) => out.push(`${now() - start} changed ${i.current.oif} ${i.current.preferredSource}`));
  return out;
}

/** Runs a churn + loss scenario live on a fake dual-uplink host, recording it. */
function recordScenario(paths: PathSpec[]): { lines: RecordingLine[]; live: string[][]; start: number } {
  const h = makeHost({}, (net) => addSecondUplink(net));
  const lines: RecordingLine[] = [];
  const recorder = new RecordingSource(h.net, (l) => lines.push(JSON.parse(JSON.stringify(l))), h.clock);
  recorder.begin({ netns: null, paths, probeIntervalMs: null });
  const judge = new PathJudge(recorder, { clock: h.clock });
  const start = h.clock.now();
  const live = paths.map((p) => verdicts(judge.watch(p), () => h.clock.now(), start));
  // IPv6 reapply (churn), then IPv4 release (loss).
  h.net.removeAddress(h.eth0, V6.local);
  h.net.at(1500, () => h.net.addAddress(h.eth0, `${V6.local}/64`, { flags: IFA_F_PERMANENT | IFA_F_TENTATIVE }));
  h.net.at(2800, () => h.net.changeAddress(h.eth0, V6.local, { flags: IFA_F_PERMANENT }));
  h.net.at(5000, () => h.net.removeAddress(h.eth0, V4.local));
  h.runUntil(20_000);
  recorder.end();
  return { lines, live, start };
}

describe('record and replay', () => {
  const paths = [
    { local: V4.local, remote: V4.peer },
    { local: V6.local, remote: V6.peer },
  ];

  it('replaying a recording gives the verdicts the live judge gave, at the same times', () => {
    const { lines, live, start } = recordScenario(paths);
    expect(live[0]).toEqual(['5000 suspect local-address-removed 8000', '8000 gone local-address-removed']);
    expect(live[1]).toEqual(['0 suspect local-address-removed 3000', '1500 recovered local-address-removed']);
    for (const [i, p] of paths.entries()) {
      const source = new ReplaySource(lines);
      const judge = new PathJudge(source, { clock: source.clock });
      const replayed = verdicts(judge.watch(p), () => source.clock.now(), start);
      source.play();
      expect(replayed).toEqual(live[i]);
      expect(source.lookupStats.recorded).toBeGreaterThan(0);
    }
  });

  it('replay with another hold-down moves the verdict', () => {
    const { lines, start } = recordScenario(paths);
    const source = new ReplaySource(lines);
    const judge = new PathJudge(source, { clock: source.clock, holdDowns: { 'local-address-removed': 1000 } });
    const v4 = verdicts(judge.watch(paths[0]), () => source.clock.now(), start);
    const v6 = verdicts(judge.watch(paths[1]), () => source.clock.now(), start);
    source.play();
    expect(v4).toEqual(['5000 suspect local-address-removed 6000', '6000 gone local-address-removed']);
    // 1 s is less than the 1.5 s the IPv6 address was away, but the IPv6 default route stayed on
    // eth0, where a new connection would find no global source: no alternative, so patience.
    expect(v6).toEqual(['0 suspect local-address-removed 1000', '1500 recovered local-address-removed']);
  });

  it('a path the recorder did not watch is judged with lookups derived from the recorded routes', () => {
    const { lines, start } = recordScenario([]);
    const source = new ReplaySource(lines);
    const judge = new PathJudge(source, { clock: source.clock });
    const v4 = verdicts(judge.watch(paths[0]), () => source.clock.now(), start);
    source.play();
    expect(v4).toEqual(['5000 suspect local-address-removed 8000', '8000 gone local-address-removed']);
    expect(source.lookupStats.recorded).toBe(0);
    expect(source.lookupStats.derived).toBeGreaterThan(0);
  });

  it('parseRecording names the bad line', () => {
    expect(() => parseRecording('{"kind":"event","time":1,"event":{"type":"link"}}\n')).toThrow(/line 1: starts with "event"/);
    expect(() => parseRecording('{"kind":"header","format":"other","version":1,"time":0}\n')).toThrow(/line 1: not a routeguard-record/);
    const { lines } = recordScenario([]);
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    expect(() => parseRecording(`${text}\nnot json\n`)).toThrow(new RegExp(`line ${lines.length + 1}: not JSON`));
    expect(() => parseRecording(`${text}\n{"kind":"weird","time":${lines[lines.length - 1].time}}`)).toThrow(/unknown kind "weird"/);
  });

  it('names the field of a malformed object, and refuses times that run backwards or are not finite', () => {
    const { lines } = recordScenario(paths);
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    const end = lines[lines.length - 1].time;
    const header = JSON.stringify(lines[0]);
    const snapshot = lines[1] as unknown as Record<string, unknown>;
    const cases: Array<[string, RegExp]> = [
      [`${text}\n{"kind":"event","time":${end},"event":{"type":"link","action":"removed"}}`, /link event: link must be an object/],
      [`${text}\n{"kind":"event","time":${end},"event":{"type":"route","action":"added","route":{"family":4,"table":254,"type":"unicast","protocol":3,"scope":0,"destination":"0.0.0.0","destinationLength":0,"multipath":5}}}`, /route\.multipath must be an array or null, got 5/],
      [`${text}\n{"kind":"lookup","time":${end},"query":{"to":"192.0.2.1"},"result":{"ok":true}}`, /lookup: result\.route must be an object/],
      [`${text}\n{"kind":"lookup","time":${end},"query":{"to":"192.0.2.1"},"result":"x"}`, /result must be an object with ok true or false/],
      [`${text}\n{"kind":"end","time":${end - 1}}`, /is not a finite time at or after the line before/],
      [`${text}\n{"kind":"end","time":1e400}`, /not a finite time/],
      [`${header}\n${JSON.stringify({ ...snapshot, links: 5 })}`, /line 2: snapshot: links must be an array/],
      [`${header}\n${JSON.stringify({ ...snapshot, rules: [{}] })}`, /snapshot: rules\[0\]\.family must be 4 or 6/],
      [`${JSON.stringify({ ...lines[0], paths: undefined })}\n${JSON.stringify(snapshot)}`, /line 1: header: paths must be an array/],
    ];
    for (const [bad, message] of cases) {
      expect(() => parseRecording(bad)).toThrow(message);
      expect(() => parseRecording(bad)).toThrow(expect.objectContaining({ code: 'ERR_BAD_RECORDING' }));
    }
  });

  it('readRecording replays around bad lines after the snapshot (a last line cut short) and lists them', () => {
    const { lines } = recordScenario(paths);
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    const cut = `${text}\n{"kind":"end","ti`;
    const { lines: read, skipped } = readRecording(cut);
    expect(read).toEqual(lines);
    expect(skipped).toEqual([{ line: lines.length + 1, why: 'not JSON' }]);
    // A bad header or snapshot still refuses the file: nothing could be replayed.
    expect(() => readRecording(`${JSON.stringify(lines[0])}\n{"kind":"snapshot","time":${lines[0].time},"links":5}`)).toThrow(/line 2: snapshot: links must be an array/);
  });

  it('`routeguard replay FILE --path ...` prints the timeline and the end state', async () => {
    const { lines } = recordScenario(paths);
    const file = join(dir, 'churn.ndjson');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (d) => (text += d));
    const io = { stdout, stderr: new PassThrough(), signal: new AbortController().signal };
    expect(await replayCommand([file, '--path', `${V6.local},${V6.peer}`, '--evidence'], io)).toBe(0);
    expect(text).toMatch(/\+0\.000s {2}suspect {3}local-address-removed; fresh check at \+3\.000s/);
    expect(text).toMatch(/\+1\.500s {2}recovered from local-address-removed after 1500 ms/);
    expect(text).toMatch(/address 2001:db8:1::10\/64 removed from eth0/);
    expect(text).toMatch(/# end: viable; lookups \d+ recorded/);

    let json = '';
    stdout.removeAllListeners('data');
    stdout.on('data', (d) => (json += d));
    expect(await replayCommand([file, '--path', `${V4.local},${V4.peer}`, '--json', '--hold-down', '500'], io)).toBe(0);
    const events = json.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => [e.at, e.event])).toEqual([
      [0, 'viable'],
      [5000, 'suspect'],
      [5500, 'gone'],
      [expect.any(Number), 'end'],
    ]);
    await expect(replayCommand([file], io)).rejects.toThrow(/give --path LOCAL,REMOTE \(the recording has paths/);
    await expect(replayCommand([file, '--path', `${V4.local},${V4.peer}`, '--hold-down', 'link-sad=5'], io)).rejects.toThrow(
      /unknown reason "link-sad"/,
    );

    // A recording whose recorder was killed mid-line: replayed, the cut line named on stderr.
    const cut = join(dir, 'cut.ndjson');
    writeFileSync(cut, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"kind":"lookup","time":`);
    const stderr = new PassThrough();
    let warnings = '';
    stderr.on('data', (d) => (warnings += d));
    json = '';
    expect(await replayCommand([cut, '--path', `${V4.local},${V4.peer}`, '--json', '--hold-down', '500'], { ...io, stderr })).toBe(0);
    expect(warnings).toBe(`routeguard replay: ${cut} line ${lines.length + 1} left out: not JSON\n`);
    expect(json.trim().split('\n').map((l) => JSON.parse(l).event)).toEqual(['viable', 'suspect', 'gone', 'end']);
  });
});
