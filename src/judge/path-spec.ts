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

interface ParsedAddress {
  text: string;
  family: Family;
  bytes: Uint8Array;
  linkLocal: boolean;
}

/** Parses once: canonical text (IPv4-mapped IPv6 becomes IPv4), family, bytes, link-local. */
function address(spec: PathSpec, field: 'local' | 'remote'): ParsedAddress {
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
  return { text: canonical, family, bytes, linkLocal: family === 6 && bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80 };
}

function unsigned(spec: PathSpec, field: 'ifindex' | 'mark' | 'boundIfindex', min: number): number | null {
  const v = spec[field];
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v) || v < min || v > 0xffffffff) {
    throw new InvalidArgumentError(
      `PathSpec.${field} must be an integer from ${min} to 4294967295, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Checks and canonicalises a PathSpec; throws InvalidArgumentError (code ERR_INVALID_ARG) saying what to fix. */
export function normalizePathSpec(spec: PathSpec): NormalizedPath {
  if (spec === null || typeof spec !== 'object') {
    throw new InvalidArgumentError(
      `a PathSpec must be an object { local, remote, ifindex?, mark?, boundIfindex? }, got ${String(spec)}`,
    );
  }
  const l = address(spec, 'local');
  const r = address(spec, 'remote');
  const local = l.text;
  const remote = r.text;
  if (l.family !== r.family) {
    throw new InvalidArgumentError(
      `PathSpec mixes families: local ${local} is IPv${l.family}, remote ${remote} is IPv${r.family}; ` +
        'give both as IPv4 or both as IPv6 (an IPv4-mapped "::ffff:a.b.c.d" counts as IPv4)',
    );
  }
  const ifindex = unsigned(spec, 'ifindex', 1);
  const mark = unsigned(spec, 'mark', 0);
  const boundIfindex = unsigned(spec, 'boundIfindex', 1);
  const linkLocal = l.linkLocal || r.linkLocal;
  if (linkLocal && ifindex === null) {
    throw new InvalidArgumentError(
      `PathSpec with link-local ${l.linkLocal ? `local ${local}` : `remote ${remote}`} needs ifindex ` +
        '(the interface index the connection uses, e.g. from `ip -j link` or socket.address().scopeid)',
    );
  }
  const canonical: PathSpec = { local, remote };
  if (ifindex !== null) canonical.ifindex = ifindex;
  if (mark !== null) canonical.mark = mark;
  if (boundIfindex !== null) canonical.boundIfindex = boundIfindex;
  return {
    key: `${local}|${remote}|${ifindex ?? ''}|${mark ?? ''}${boundIfindex !== null ? `|${boundIfindex}` : ''}`,
    family: l.family,
    local,
    remote,
    localBytes: l.bytes,
    remoteBytes: r.bytes,
    ifindex,
    mark,
    boundIfindex,
    linkLocal,
    localLinkLocal: l.linkLocal,
    spec: Object.freeze(canonical),
  };
}

/** Parses the CLI form "LOCAL,REMOTE[,IFINDEX[,MARK[,BOUND_IFINDEX]]]". */
export function parsePathArgument(text: string): PathSpec {
  const [local, remote, ifindex, mark, bound, ...rest] = text.split(',');
  if (!local || !remote || rest.length > 0) {
    throw new InvalidArgumentError(`--path must be LOCAL,REMOTE[,IFINDEX[,MARK[,BOUND_IFINDEX]]], got "${text}"`);
  }
  const spec: PathSpec = { local, remote };
  if (ifindex) spec.ifindex = Number(ifindex);
  if (mark) spec.mark = Number(mark);
  if (bound) spec.boundIfindex = Number(bound);
  normalizePathSpec(spec);
  return spec;
}
