/**
 * PathSpec validation: canonical addresses, one family, an interface for
 * link-local, and the key under which watchers of the same path share one evaluation.
 */
import { InvalidArgumentError } from '../errors';
import { formatIp, parseIp } from '../netlink/ip';
import type { Family } from '../netlink/types';
import type { PathSpec } from './types';

export interface NormalizedPath {
  /** Shared-evaluation key: "local|remote|ifindex|mark", plus "|boundIfindex" when bound. */
  readonly key: string;
  readonly family: Family;
  readonly local: string;
  readonly remote: string;
  /** Local and peer bytes (16; IPv4 in the first 4), for prefix matching. */
  readonly localBytes: Uint8Array;
  readonly remoteBytes: Uint8Array;
  readonly ifindex: number | null;
  readonly mark: number | null;
  /** The device the socket is bound to: every lookup carries it as oif. */
  readonly boundIfindex: number | null;
  /** Either end is IPv6 link-local: the address only means something with `ifindex`. */
  readonly linkLocal: boolean;
  /** The local address is IPv6 link-local (found only on `ifindex`). */
  readonly localLinkLocal: boolean;
  /** The canonical spec handed back as `watch.path`. */
  readonly spec: Readonly<PathSpec>;
}

/**
 * One canonical address, parsed once. A judge shares one atom among all the paths
 * that name the address (AddressAtoms), so 100k paths over 10k peers hold 10k
 * parsed peers, not 100k strings and byte arrays.
 */
export interface AddressAtom {
  readonly text: string;
  readonly family: Family;
  /** 16 bytes; IPv4 in the first 4. */
  readonly bytes: Uint8Array;
  /** IPv6 link-local (fe80::/10). */
  readonly linkLocal: boolean;
  /** Watched paths that name it (kept by AddressAtoms). */
  refs: number;
  /**
   * How a new connection to this peer would leave, valid while `wayGen` is the judge's
   * current generation (new-connections.ts): a field, not a 10k-entry map probed per path.
   */
  way: unknown;
  wayGen: number;
}

/** Parses one end: canonical text (IPv4-mapped IPv6 becomes IPv4), family, bytes, link-local. */
export function parseAddress(spec: PathSpec, field: 'local' | 'remote'): AddressAtom {
  const text = spec[field];
  const parsed = typeof text === 'string' ? parseIp(text) : null;
  if (!parsed) {
    const hint = typeof text === 'string' && text.includes('%')
      ? ' (give the interface as `ifindex`, not as a "%zone" suffix)'
      : '';
    throw new InvalidArgumentError(
      `PathSpec.${field} must be an IPv4 or IPv6 address like "192.0.2.10" or "2001:db8::10", got ${JSON.stringify(text)}${hint}`,
    );
  }
  let { family, bytes } = parsed;
  if (family === 6 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    family = 4;
    bytes = new Uint8Array(16);
    bytes.set(parsed.bytes.subarray(12, 16));
  }
  const canonical = formatIp(bytes, family);
  if (canonical === '0.0.0.0' || canonical === '::') {
    throw new InvalidArgumentError(
      `PathSpec.${field} must be a concrete address, not the unspecified ${canonical} (use the socket's bound address)`,
    );
  }
  return { text: canonical, family, bytes, linkLocal: family === 6 && bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80, refs: 0, way: null, wayGen: 0 };
}

/** `max`: a mark is any u32; an interface index is the kernel's int (2^31 - 1 at most). */
function unsigned(spec: PathSpec, field: 'ifindex' | 'mark' | 'boundIfindex', min: number, max: number): number | null {
  const v = spec[field];
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(
      `PathSpec.${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** What a path names besides its two addresses; absent for most paths (they share `NO_EXTRAS`). */
interface PathExtras {
  readonly ifindex: number | null;
  readonly mark: number | null;
  readonly boundIfindex: number | null;
}

const NO_EXTRAS: PathExtras = Object.freeze({ ifindex: null, mark: null, boundIfindex: null });

/**
 * A checked, canonical path: two atoms and, rarely, an interface, a mark or a bound
 * device. Everything else (key, spec, bytes) is derived on demand, so a path held by
 * the judge costs one small object.
 */
export class CanonicalPath implements NormalizedPath {
  constructor(
    readonly localAtom: AddressAtom,
    readonly remoteAtom: AddressAtom,
    private readonly extras: PathExtras,
  ) {}

  get family(): Family {
    return this.localAtom.family;
  }
  get local(): string {
    return this.localAtom.text;
  }
  get remote(): string {
    return this.remoteAtom.text;
  }
  get localBytes(): Uint8Array {
    return this.localAtom.bytes;
  }
  get remoteBytes(): Uint8Array {
    return this.remoteAtom.bytes;
  }
  get ifindex(): number | null {
    return this.extras.ifindex;
  }
  get mark(): number | null {
    return this.extras.mark;
  }
  get boundIfindex(): number | null {
    return this.extras.boundIfindex;
  }
  get linkLocal(): boolean {
    return this.localAtom.linkLocal || this.remoteAtom.linkLocal;
  }
  get localLinkLocal(): boolean {
    return this.localAtom.linkLocal;
  }
  /** True when the path names nothing but its two addresses. */
  get plain(): boolean {
    return this.extras === NO_EXTRAS;
  }
  get key(): string {
    const { ifindex, mark, boundIfindex } = this.extras;
    return `${this.local}|${this.remote}|${ifindex ?? ''}|${mark ?? ''}${boundIfindex !== null ? `|${boundIfindex}` : ''}`;
  }
  /** Same path as `other` apart from the addresses (same interface, mark and bound device). */
  sameExtras(other: CanonicalPath): boolean {
    const a = this.extras;
    const b = other.extras;
    return a === b || (a.ifindex === b.ifindex && a.mark === b.mark && a.boundIfindex === b.boundIfindex);
  }
  get spec(): Readonly<PathSpec> {
    const canonical: PathSpec = { local: this.local, remote: this.remote };
    const { ifindex, mark, boundIfindex } = this.extras;
    if (ifindex !== null) canonical.ifindex = ifindex;
    if (mark !== null) canonical.mark = mark;
    if (boundIfindex !== null) canonical.boundIfindex = boundIfindex;
    return Object.freeze(canonical);
  }
}

/**
 * Checks and canonicalises a PathSpec; throws InvalidArgumentError (code ERR_INVALID_ARG)
 * saying what to fix. `atom` turns each end into its atom (a judge shares them).
 */
export function canonicalPath(
  spec: PathSpec,
  atom: (spec: PathSpec, field: 'local' | 'remote') => AddressAtom = parseAddress,
): CanonicalPath {
  if (spec === null || typeof spec !== 'object') {
    throw new InvalidArgumentError(
      `a PathSpec must be an object { local, remote, ifindex?, mark?, boundIfindex? }, got ${String(spec)}`,
    );
  }
  const l = atom(spec, 'local');
  const r = atom(spec, 'remote');
  if (l.family !== r.family) {
    throw new InvalidArgumentError(
      `PathSpec mixes families: local ${l.text} is IPv${l.family}, remote ${r.text} is IPv${r.family}; ` +
        'give both as IPv4 or both as IPv6 (an IPv4-mapped "::ffff:a.b.c.d" counts as IPv4)',
    );
  }
  const ifindex = unsigned(spec, 'ifindex', 1, 0x7fffffff);
  const mark = unsigned(spec, 'mark', 0, 0xffffffff);
  const boundIfindex = unsigned(spec, 'boundIfindex', 1, 0x7fffffff);
  if ((l.linkLocal || r.linkLocal) && ifindex === null) {
    throw new InvalidArgumentError(
      `PathSpec with link-local ${l.linkLocal ? `local ${l.text}` : `remote ${r.text}`} needs ifindex ` +
        '(the interface index the connection uses, e.g. from `ip -j link` or socket.address().scopeid)',
    );
  }
  // A zone means something only for a link-local end: the kernel ignores sin6_scope_id
  // otherwise (__ipv6_addr_needs_scope_id), so one path is one evaluation, zone given or not.
  const zone = l.linkLocal || r.linkLocal ? ifindex : null;
  const extras = zone === null && mark === null && boundIfindex === null ? NO_EXTRAS : { ifindex: zone, mark, boundIfindex };
  return new CanonicalPath(l, r, extras);
}

/** Checks and canonicalises a PathSpec; throws InvalidArgumentError (code ERR_INVALID_ARG) saying what to fix. */
export function normalizePathSpec(spec: PathSpec): NormalizedPath {
  return canonicalPath(spec);
}

/** Parses the CLI form "LOCAL,REMOTE[,IFINDEX[,MARK[,BOUND_IFINDEX]]]". */
export function parsePathArgument(text: string): PathSpec {
  const [local, remote, ifindex, mark, bound, ...rest] = text.split(',');
  if (!local || !remote || rest.length > 0) {
    throw new InvalidArgumentError(`--path must be LOCAL,REMOTE[,IFINDEX[,MARK[,BOUND_IFINDEX]]], got "${text}"`);
  }
  const spec: PathSpec = { local, remote };
  // Decimal digits only (Number() would read " " as 0 and take 0x10 or 1e3); an empty field is absent.
  const field = (name: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`--path: ${name} must be an integer in decimal digits, got "${v}" in "${text}"`);
    return Number(v);
  };
  if (ifindex) spec.ifindex = field('IFINDEX', ifindex);
  if (mark) spec.mark = field('MARK', mark);
  if (bound) spec.boundIfindex = field('BOUND_IFINDEX', bound);
  normalizePathSpec(spec);
  return spec;
}
