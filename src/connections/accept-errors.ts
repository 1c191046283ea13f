/**
 * What an accept() error means for a listener: a network errno accept(2) passes
 * through (accept again, like EAGAIN), a shortage of descriptors or memory
 * (accepting again at once would spin: pause), or anything else (log it).
 */
import { closeSync, openSync } from 'node:fs';
import { devNull } from 'node:os';

/** Network errnos accept(2) passes through, to be treated like EAGAIN (man 2 accept). */
const PASS_THROUGH_ACCEPT_ERRNOS = new Set([
  'ENETDOWN', 'EPROTO', 'ENOPROTOOPT', 'EHOSTDOWN', 'ENONET', 'EHOSTUNREACH', 'EOPNOTSUPP', 'ENETUNREACH',
  'ECONNABORTED', 'ETIMEDOUT', 'EAGAIN', 'EINTR', 'EPERM',
]);
/** Resource errnos after which accepting again at once would spin. */
const EXHAUSTION_ERRNOS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

export type AcceptErrorKind = 'exhaustion' | 'pass-through' | 'other';

export function acceptErrorKind(code: string): AcceptErrorKind {
  if (EXHAUSTION_ERRNOS.has(code)) return 'exhaustion';
  if (PASS_THROUGH_ACCEPT_ERRNOS.has(code)) return 'pass-through';
  return 'other';
}

/** Tries to open one descriptor; returns the errno name when the process cannot, else null. */
export function probeDescriptor(): string | null {
  try {
    closeSync(openSync(devNull, 'r')); // '\\.\\nul' on Windows, where a laptop runs the same server
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return EXHAUSTION_ERRNOS.has(code) ? code : null;
  }
}
