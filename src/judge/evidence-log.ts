/**
 * Evidence timelines: one bounded log per evaluated path, and the one-line
 * summaries of the netlink events the judge acted on.
 */
import { addressFlagNames } from '../netlink/flags';
import type { NetworkEvent } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';
import type { EvidenceEntry } from './types';

/** "veth0 (index 4)", or "index 4" when the link is unknown. */
export function linkLabel(view: NetworkStateView, index: number | null): string {
  if (index === null) return 'no interface';
  const name = view.link(index)?.name;
  return name ? `${name} (index ${index})` : `index ${index}`;
}

/** One line for an event, e.g. "address 2001:db8::1/64 removed from veth0 (index 4)". */
export function describeEvent(event: NetworkEvent, view: NetworkStateView): string {
  switch (event.type) {
    case 'address': {
      const a = event.address;
      const flags = addressFlagNames(a.flags, a.family).filter((f) => f !== 'permanent');
      const life = a.validLifetime === null ? '' : ` valid ${a.validLifetime}s`;
      const prep = event.action === 'added' ? 'to' : event.action === 'removed' ? 'from' : 'on';
      return `address ${a.local ?? a.address}/${a.prefixLength} ${event.action} ${prep} ${linkLabel(view, a.index)}` +
        `${flags.length ? ` [${flags.join(',')}]` : ''}${life}`;
    }
    case 'link': {
      const l = event.link;
      const state = `${l.up ? 'up' : 'admin-down'}, ${l.lowerUp ? 'carrier' : 'no carrier'}, ${l.operstate}`;
      return `link ${l.name} (index ${l.index}) ${event.action}: ${state}`;
    }
    case 'route': {
      const r = event.route;
      const dst = r.destinationLength === 0 ? 'default' : `${r.destination}/${r.destinationLength}`;
      const via = r.multipath
        ? r.multipath.map((h) => `${h.gateway ?? 'direct'}@${h.index}`).join('+')
        : `${r.gateway ? `via ${r.gateway} ` : ''}${r.oif !== null ? `dev ${linkLabel(view, r.oif)}` : ''}`;
      const extra = `${r.type !== 'unicast' ? ` ${r.type}` : ''}${r.expires !== null ? ` expires ${r.expires}s` : ''}`;
      return `route ${dst} ${event.action} in table ${r.table}: ${via} metric ${r.metric ?? 0}${extra}`;
    }
    case 'nexthop':
      return `nexthop ${event.nexthop.id} ${event.action}`;
    case 'rule': {
      const r = event.rule;
      const sel = [
        r.invert ? 'not' : '',
        r.source ? `from ${r.source}/${r.sourceLength}` : 'from all',
        r.destination ? `to ${r.destination}/${r.destinationLength}` : '',
        r.fwmark !== null ? `fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== null ? `/0x${r.fwmask.toString(16)}` : ''}` : '',
        r.suppressPrefixLength !== null ? `suppress_prefixlength ${r.suppressPrefixLength}` : '',
      ].filter(Boolean).join(' ');
      const action = r.action === 'to-table' ? `lookup ${r.table}` : r.action;
      return `rule ${r.priority}: ${sel} ${action} (IPv${r.family}) ${event.action}`;
    }
    case 'neighbour': {
      const n = event.neighbour;
      const was = event.previous && event.previous.stateName !== n.stateName ? ` (was ${event.previous.stateName.toUpperCase()})` : '';
      return `neighbour ${n.address} on ${linkLabel(view, n.index)} ${event.action}: ${n.stateName.toUpperCase()}${was}`;
    }
    case 'synced':
      return 'initial sync complete';
    case 'resync':
      return `resync (${event.reason}): ${event.added} added, ${event.changed} changed, ${event.removed} removed`;
    case 'dropped':
      return `${event.count} message(s) dropped: ${event.reason}`;
  }
}

/**
 * A bounded timeline kept in one field of its owner: nothing, one entry (most paths
 * only ever have their first check), or an array holding the newest `limit` entries,
 * oldest first (trimmed back to the limit an eighth past it).
 */
export type Timeline = EvidenceEntry | EvidenceEntry[] | null;

export function appendEntry(t: Timeline, entry: EvidenceEntry, limit: number): Timeline {
  if (t === null) return limit > 1 ? entry : [entry];
  if (!Array.isArray(t)) return [t, entry];
  t.push(entry);
  // Trimmed at an eighth over the limit: each add stays O(1) amortised (8 copies), and a
  // path under endless churn holds ~1.1x its limit in slots, not 2x (100k paths, 64 each).
  return t.length > limit + Math.max(1, limit >> 3) ? t.slice(-limit) : t;
}

/** All kept entries (a copy). */
export function timelineAll(t: Timeline, limit: number): EvidenceEntry[] {
  if (t === null) return [];
  if (!Array.isArray(t)) return [t];
  return t.length > limit ? t.slice(-limit) : t.slice();
}

/** Entries from `time` on (a suspect window's evidence), within the limit. */
export function timelineSince(t: Timeline, time: number, limit: number): EvidenceEntry[] {
  if (t === null) return [];
  if (!Array.isArray(t)) return t.time >= time ? [t] : [];
  const first = Math.max(0, t.length - limit);
  let i = t.length;
  while (i > first && t[i - 1].time >= time) i--;
  return t.slice(i);
}
