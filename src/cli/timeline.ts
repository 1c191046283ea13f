/**
 * A watched path's verdicts as printable lines (`routeguard path`, `routeguard replay`):
 * one line per state change, time relative to a start, optionally with the evidence.
 */
import type { NetworkStateView } from '../netlink/view';
import { linkLabel } from '../judge/evidence-log';
import type { EvidenceEntry, PathRoute, PathWatch } from '../judge/types';

export interface TimelineOptions {
  /** NDJSON objects instead of text. */
  json?: boolean;
  /** Print each verdict's evidence under it. */
  evidence?: boolean;
}

function seconds(ms: number): string {
  return `${ms >= 0 ? '+' : '-'}${(Math.abs(ms) / 1000).toFixed(3)}s`;
}

function routeText(r: PathRoute | null, view: NetworkStateView): string {
  if (!r) return 'no route known';
  return `dev ${linkLabel(view, r.oif)}${r.gateway ? ` via ${r.gateway}` : ''} table ${r.table}` +
    `${r.preferredSource ? `, new connections from ${r.preferredSource}` : ''}`;
}

/**
 * Writes the watch's current state now, then a line per event until the watch closes.
 * `now` and `start` are on the judge's clock.
 */
export function printTimeline(
  watch: PathWatch,
  view: NetworkStateView,
  now: () => number,
  start: number,
  write: (line: string) => void,
  options: TimelineOptions = {},
): void {
  const at = () => now() - start;
  const emit = (kind: string, text: string, data: Record<string, unknown>, evidence?: readonly EvidenceEntry[]) => {
    if (options.json) {
      write(`${JSON.stringify({ at: at(), event: kind, ...data, ...(options.evidence && evidence ? { evidence } : {}) })}\n`);
      return;
    }
    write(`${seconds(at())}  ${kind.padEnd(9)} ${text}\n`);
    if (options.evidence && evidence) {
      for (const e of evidence) write(`    ${seconds(e.time - start)} ${e.kind.padEnd(5)} ${e.summary}\n`);
    }
  };
  const p = watch.path;
  emit(watch.state, `${p.local} -> ${p.remote}${watch.reason ? ` (${watch.reason})` : ''}: ${routeText(watch.route, view)}`, {
    state: watch.state,
    reason: watch.reason,
    route: watch.route,
  });
  watch.on('suspect', (i) =>
    emit('suspect', `${i.reason}; fresh check at ${seconds(i.deadline - start)}`, { reason: i.reason, deadline: i.deadline - start }, i.evidence),
  );
  watch.on('recovered', (i) =>
    emit('recovered', `from ${i.reason} after ${i.suspectForMs} ms (churn ridden out)`, { reason: i.reason, suspectForMs: i.suspectForMs }, i.evidence),
  );
  watch.on('gone', (i) => emit('gone', i.reason, { reason: i.reason }, i.evidence));
  watch.on('ended', (i) => emit('ended', `${i.code}: ${i.message}`, { code: i.code, message: i.message }));
  watch.on('changed', (i) =>
    emit('changed', `${routeText(i.previous, view)} -> ${routeText(i.current, view)}`, { previous: i.previous, current: i.current }),
  );
}
