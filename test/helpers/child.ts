/**
 * Node child processes for tests that need a process of their own: garbage-collection
 * and exit behaviour, worker termination, soak loops. The sanitizer preload (an ASan
 * run, see test/native/addon.test.ts) is handed to node children only, never to the
 * tools the tests run.
 */
import { spawn } from 'node:child_process';

// Already loaded into this process; only node children need it again.
const sanitizerPreload = process.env.LD_PRELOAD;
delete process.env.LD_PRELOAD;

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ChildOptions {
  env?: Record<string, string>;
  /** Node flags before `-e` (e.g. --expose-gc). */
  args?: string[];
  timeoutMs?: number;
  /** A command prefix (e.g. ['ip', 'netns', 'exec', NAME]). */
  runAs?: string[];
  /** Called with each chunk of stdout as it arrives (to react to a child's "ready"). */
  onStdout?: (chunk: string, all: string) => void;
}

/** Runs `node [args] -e script`; resolves with its exit code/signal and output. */
export function runNode(script: string, opts: ChildOptions = {}): Promise<ChildResult> {
  const argv = [process.execPath, ...(opts.args ?? []), '-e', script];
  const [command, ...args] = [...(opts.runAs ?? []), ...argv];
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...(sanitizerPreload ? { LD_PRELOAD: sanitizerPreload } : {}), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      opts.onStdout?.(String(d), stdout);
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
