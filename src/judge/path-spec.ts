/**
 * PathSpec validation: canonical addresses, one family, an interface for
 * link-local, and the key under which watchers of the same path share one evaluation.
 */
import { InvalidArgumentError } from '../errors';
import { isIPv6LinkLocal, normalizeIp, parseIp } from '../netlink/ip';
import type { Family } from '../netlink/types';
import type { PathSpec } from './types';

export interface NormalizedPath {
  /** Shared-evaluation key: "local|remote|ifindex|mark". */
  readonly key: string;
  readonly family: Family;
  readonly local: string;
  readonly remote: string;
  /** Peer bytes (16; IPv4 in the first 4), for prefix matching. */
  readonly remoteBytes: Uint8Array;
  readonly ifindex: number | null;
  readonly mark: number | null;
  /** Either end is IPv6 link-local: the address only means something with `ifindex`. */
  readonly linkLocal: boolean;
  /** The canonical spec handed back as `watch.path`. */
  readonly spec: Readonly<PathSpec>;
}

function address(spec: PathSpec, field: 'local' | 'remote'): string {
  const text = spec[field];
  const normalized = typeof text === 'string' ? normalizeIp(text) : null;
  if (!normalized) {
    const hint = typeof text === 'string' && text.includes('%')
      ? ' (give the interface as `ifindex`, not as a "%zone" suffix)'
      : '';
    throw new InvalidArgumentError(
      `PathSpec.${field} must be an IPv4 or IPv6 address like "192.0.2.10" or "2001:db8::10", got ${JSON.stringify(text)}${hint}`,
    );
  }
  if (normalized === '0.0.0.0' || normalized === '::') {
    throw new InvalidArgumentError(
      `PathSpec.${field} must be a concrete address, not the unspecified ${normalized} (use the socket's bound address)`,
    );
  }
  return normalized;
}

function unsigned(spec: PathSpec, field: 'ifindex' | 'mark', min: number): number | null {
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
    throw new InvalidArgumentError(`a PathSpec must be an object { local, remote, ifindex?, mark? }, got ${String(spec)}`);
  }
  const local = address(spec, 'local');
  const remote = address(spec, 'remote');
  const l = parseIp(local)!;
  const r = parseIp(remote)!;
  if (l.family !== r.family) {
    throw new InvalidArgumentError(
      `PathSpec mixes families: local ${local} is IPv${l.family}, remote ${remote} is IPv${r.family}; ` +
        'give both as IPv4 or both as IPv6 (an IPv4-mapped "::ffff:a.b.c.d" counts as IPv4)',
    );
  }
  const ifindex = unsigned(spec, 'ifindex', 1);
  const mark = unsigned(spec, 'mark', 0);
  const linkLocal = isIPv6LinkLocal(local) || isIPv6LinkLocal(remote);
  if (linkLocal && ifindex === null) {
    throw new InvalidArgumentError(
      `PathSpec with link-local ${isIPv6LinkLocal(local) ? `local ${local}` : `remote ${remote}`} needs ifindex ` +
        '(the interface index the connection uses, e.g. from `ip -j link` or socket.address().scopeid)',
    );
  }
  const canonical: PathSpec = { local, remote };
  if (ifindex !== null) canonical.ifindex = ifindex;
  if (mark !== null) canonical.mark = mark;
  return {
    key: `${local}|${remote}|${ifindex ?? ''}|${mark ?? ''}`,
    family: l.family,
    local,
    remote,
    remoteBytes: r.bytes,
    ifindex,
    mark,
    linkLocal,
    spec: Object.freeze(canonical),
  };
}

/** Parses the CLI form "LOCAL,REMOTE[,IFINDEX[,MARK]]". */
export function parsePathArgument(text: string): PathSpec {
  const [local, remote, ifindex, mark, ...rest] = text.split(',');
  if (!local || !remote || rest.length > 0) {
    throw new InvalidArgumentError(`--path must be LOCAL,REMOTE[,IFINDEX[,MARK]], got "${text}"`);
  }
  const spec: PathSpec = { local, remote };
  if (ifindex) spec.ifindex = Number(ifindex);
  if (mark) spec.mark = Number(mark);
  normalizePathSpec(spec);
  return spec;
}
