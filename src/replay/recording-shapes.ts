/**
 * The shapes of a recording's objects, checked field by field when it is read: a
 * recording is a file, possibly cut short or edited by hand, and the replayed state,
 * the judge and the printer read these fields without asking. A field of the wrong
 * type is named here (`route.multipath must be an array or null`), not met later as
 * a TypeError deep in a replay.
 *
 * Only the fields something reads are checked; others may be missing (recordings
 * from older versions lack some).
 */

/** n: finite number; s: string; b: boolean; f: address family 4 or 6; a: array; o: object; '?' also null. */
type FieldType = 'n' | 'n?' | 's' | 's?' | 'b' | 'f' | 'a?';
type Shape = Readonly<Record<string, FieldType>>;

const LINK: Shape = { index: 'n', name: 's', flags: 'n', up: 'b', lowerUp: 'b', operstate: 's', mtu: 'n', kind: 's?', master: 'n?' };
const ADDRESS: Shape = {
  family: 'f', index: 'n', prefixLength: 'n', scope: 'n', flags: 'n', address: 's', local: 's?',
  preferredLifetime: 'n?', validLifetime: 'n?',
};
const ROUTE: Shape = {
  family: 'f', table: 'n', type: 's', protocol: 'n', scope: 'n', destination: 's', destinationLength: 'n',
  source: 's?', gateway: 's?', preferredSource: 's?', oif: 'n?', metric: 'n?', expires: 'n?', nexthopId: 'n?', multipath: 'a?',
};
const ROUTE_NEXTHOP: Shape = { index: 'n', weight: 'n', gateway: 's?' };
const NEXTHOP: Shape = { id: 'n', oif: 'n?', gateway: 's?', blackhole: 'b', group: 'a?' };
const NEXTHOP_MEMBER: Shape = { id: 'n', weight: 'n' };
const RULE: Shape = {
  family: 'f', priority: 'n', action: 's', table: 'n', invert: 'b', source: 's?', sourceLength: 'n',
  destination: 's?', destinationLength: 'n', fwmark: 'n?', fwmask: 'n?', iifName: 's?', oifName: 's?',
  suppressPrefixLength: 'n?', goto: 'n?',
};
const NEIGHBOUR: Shape = { family: 'f', index: 'n', address: 's', stateName: 's', linkAddress: 's?' };

/** The object an event of each type carries, under its own name. */
const EVENT_OBJECTS: Readonly<Record<string, readonly [string, Shape]>> = {
  link: ['link', LINK],
  address: ['address', ADDRESS],
  route: ['route', ROUTE],
  nexthop: ['nexthop', NEXTHOP],
  rule: ['rule', RULE],
  neighbour: ['neighbour', NEIGHBOUR],
};
const ACTIONS = new Set(['added', 'changed', 'removed']);
const NOTICES: Readonly<Record<string, Shape>> = {
  synced: {},
  resync: { reason: 's', added: 'n', changed: 'n', removed: 'n' },
  dropped: { reason: 's', count: 'n' },
};
const SNAPSHOT_LISTS: Readonly<Record<string, Shape>> = {
  links: LINK, addresses: ADDRESS, routes: ROUTE, nexthops: NEXTHOP, rules: RULE, neighbours: NEIGHBOUR,
};
/** Lists a snapshot may lack (recordings from before rules and neighbours were mirrored). */
const OPTIONAL_LISTS = new Set(['rules', 'neighbours']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fits(v: unknown, t: FieldType): boolean {
  if (t.endsWith('?') && v === null) return true;
  switch (t) {
    case 'n':
    case 'n?':
      return typeof v === 'number' && Number.isFinite(v);
    case 's':
    case 's?':
      return typeof v === 'string';
    case 'b':
      return typeof v === 'boolean';
    case 'f':
      return v === 4 || v === 6;
    case 'a?':
      return Array.isArray(v);
  }
}

const TYPE_NAMES: Readonly<Record<FieldType, string>> = {
  n: 'a number', 'n?': 'a number or null', s: 'a string', 's?': 'a string or null', b: 'true or false', f: '4 or 6',
  'a?': 'an array or null',
};

/** Why `v` is not an object of `shape` (its name `what`), or null when it is. */
function shapeProblem(v: unknown, shape: Shape, what: string): string | null {
  if (!isObject(v)) return `${what} must be an object`;
  for (const [field, type] of Object.entries(shape)) {
    if (v[field] === undefined && type.endsWith('?')) continue; // absent in older recordings: read as null
    if (!fits(v[field], type)) return `${what}.${field} must be ${TYPE_NAMES[type]}, got ${JSON.stringify(v[field]) ?? 'nothing'}`;
  }
  return null;
}

function listProblem(v: unknown, item: Shape, what: string): string | null {
  if (!Array.isArray(v)) return `${what} must be an array`;
  for (let i = 0; i < v.length; i++) {
    const p = shapeProblem(v[i], item, `${what}[${i}]`);
    if (p) return p;
  }
  return null;
}

function routeProblem(v: unknown, what: string): string | null {
  const p = shapeProblem(v, ROUTE, what);
  if (p || !Array.isArray((v as { multipath?: unknown }).multipath)) return p;
  return listProblem((v as { multipath: unknown[] }).multipath, ROUTE_NEXTHOP, `${what}.multipath`);
}

function objectProblem(v: unknown, name: string, shape: Shape, what: string): string | null {
  if (shape === ROUTE) return routeProblem(v, what);
  const p = shapeProblem(v, shape, what);
  if (p || name !== 'nexthop' || !Array.isArray((v as { group?: unknown }).group)) return p;
  return listProblem((v as { group: unknown[] }).group, NEXTHOP_MEMBER, `${what}.group`);
}

/** Why a recorded event is malformed, or null. */
export function eventProblem(e: unknown): string | null {
  if (!isObject(e) || typeof e.type !== 'string') return 'event must be an object with a type';
  const notice = NOTICES[e.type];
  if (notice) return shapeProblem(e, notice, `${e.type} event`);
  const carried = EVENT_OBJECTS[e.type];
  if (!carried) return `unknown event type ${JSON.stringify(e.type)}`;
  const [name, shape] = carried;
  if (typeof e.action !== 'string' || !ACTIONS.has(e.action)) return `${e.type} event: action must be added, changed or removed`;
  const p = objectProblem(e[name], name, shape, `${e.type} event: ${name}`);
  if (p || e.previous === undefined || e.previous === null) return p;
  return objectProblem(e.previous, name, shape, `${e.type} event: previous`);
}

/** Why a snapshot line is malformed, or null. */
export function snapshotProblem(s: Record<string, unknown>): string | null {
  for (const [list, shape] of Object.entries(SNAPSHOT_LISTS)) {
    if (s[list] === undefined && OPTIONAL_LISTS.has(list)) continue;
    if (!Array.isArray(s[list])) return `snapshot: ${list} must be an array`;
    for (let i = 0; i < (s[list] as unknown[]).length; i++) {
      const p = objectProblem((s[list] as unknown[])[i], list === 'nexthops' ? 'nexthop' : list, shape, `snapshot: ${list}[${i}]`);
      if (p) return p;
    }
  }
  return null;
}

/** Why a recorded lookup (its query and the kernel's answer) is malformed, or null. */
export function lookupProblem(query: unknown, result: unknown): string | null {
  if (!isObject(query) || typeof query.to !== 'string') return 'lookup: query must be an object with a "to" address';
  if (!isObject(result) || typeof result.ok !== 'boolean') return 'lookup: result must be an object with ok true or false';
  if (result.ok) return routeProblem(result.route, 'lookup: result.route');
  if (typeof result.code !== 'string' || typeof result.message !== 'string') return 'lookup: a failed result needs a code and a message';
  return null;
}

/** Why the header's recorded paths are malformed, or null (each is checked again as a watch). */
export function headerProblem(h: Record<string, unknown>): string | null {
  if (!Array.isArray(h.paths)) return 'header: paths must be an array';
  for (let i = 0; i < h.paths.length; i++) {
    const p = h.paths[i] as unknown;
    if (!isObject(p) || typeof p.local !== 'string' || typeof p.remote !== 'string') return `header: paths[${i}] must have local and remote addresses`;
  }
  if (h.netns !== undefined && h.netns !== null && typeof h.netns !== 'string') return 'header: netns must be a string or null';
  return null;
}
