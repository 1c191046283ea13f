/** Addon errors (errno + syscall, native/addon.cc) to routeguard's error classes. */
import {
  BadNamespaceError,
  InvalidArgumentError,
  MonitorClosedError,
  NetlinkError,
  PermissionDeniedError,
} from '../errors';
import type { NativeError } from './binding-types';

/** Maps what the addon threw; `netns` names the namespace in the messages that concern it. */
export function mapNativeError(err: unknown, netns: string | undefined): Error {
  const e = err as NativeError;
  if (err instanceof TypeError || err instanceof RangeError) return new InvalidArgumentError(e.message);
  if (e?.code === 'ERR_INVALID_STATE') return new MonitorClosedError(e.message);
  if (typeof e?.errno !== 'number') return err instanceof Error ? err : new Error(String(err));
  if (e.code === 'EPERM' || e.code === 'EACCES') {
    return new PermissionDeniedError(
      `${e.message}${netns ? ` (entering ${netns} needs CAP_SYS_ADMIN: run as root)` : ''}`,
      { cause: err },
    );
  }
  const isNsError = e.syscall === 'open' || e.syscall === 'setns';
  if (netns && isNsError) {
    const detail = e.code === 'ENOENT' ? 'no such file' : e.code === 'EINVAL' ? 'not a network namespace' : e.message;
    return new BadNamespaceError(netns, detail, { cause: err });
  }
  return new NetlinkError(e.message, e.errno, e.syscall, { cause: err });
}
