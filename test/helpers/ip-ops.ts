/**
 * Applies a list of `ip` operations in order, as the randomized tests generate them:
 * runs of plain lines with `ip -force -batch` (one process per run, not per line), and
 * each `-4 ...`/`-6 ...` line (rules, whose family cannot follow from an address) on its
 * own, since a batch line takes no global options. With a peer namespace, lines
 * starting "N " run there, and "NETNS_N" names it. Returns what iproute2 refused (a
 * refusal is part of the test: the kernel's state stays what it was).
 */
import type { NetNs } from './netns';

export const stderrOf = (err: unknown): string => String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();

export function applyIpOps(host: NetNs, ops: string[], peer?: NetNs): string {
  const errors: string[] = [];
  let run: string[] = [];
  let runNs = host;
  const flush = () => {
    if (!run.length) return;
    try {
      runNs.ipBatch(run, { force: true });
    } catch (err) {
      errors.push(stderrOf(err));
    }
    run = [];
  };
  for (const raw of ops) {
    const op = peer ? raw.replace('NETNS_N', peer.name) : raw;
    if (/^-[46] /.test(op)) {
      flush();
      try {
        host.ip(op);
      } catch (err) {
        errors.push(`${op}: ${stderrOf(err)}`);
      }
      continue;
    }
    const onPeer = peer !== undefined && op.startsWith('N ');
    const target = onPeer ? peer : host;
    if (target !== runNs) flush();
    runNs = target;
    run.push(onPeer ? op.slice(2) : op);
  }
  flush();
  return errors.join('\n');
}
