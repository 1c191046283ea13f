/**
 * Pausing a listener while descriptors are exhausted (see hardened-server.ts for why
 * a listener cannot simply stop reading): a probe opens a descriptor every
 * `descriptorProbeMs`; when it cannot (or accept() reports EMFILE and the like), the
 * listening handle is closed, the server object stays, and the same address is
 * listened on again after a back-off that doubles while descriptors stay short.
 */
import cluster from 'node:cluster';
import type { ListenOptions, Server as NetServer } from 'node:net';
import { probeDescriptor } from './accept-errors';
import type { PauseSettings } from './harden-options';
import type { Logger } from './logger';
import { errorCode } from './server-stats';

/** What the pause tells its server. */
export interface PauseHost {
  fail(code: string, message: string): void;
  paused(info: { code: string; pauseMs: number; time: number }): void;
  resumed(info: { pausedForMs: number; time: number }): void;
}

export class ListenerPause {
  /** Times the listener was paused. */
  pauses = 0;
  private probeTimer: NodeJS.Timeout | null = null;
  private resumeTimer: NodeJS.Timeout | null = null;
  private pausedSince: number | null = null;
  private resuming = false;
  private lastPauseEnd = 0;
  private pauseMs = 0;
  private listenTarget: ListenOptions | null = null;
  private disposed = false;

  constructor(
    private readonly listener: NetServer | null,
    private readonly settings: PauseSettings,
    private readonly host: PauseHost,
    private readonly log: Logger,
  ) {}

  /** The listener is closed for lack of descriptors and will listen again. */
  get paused(): boolean {
    return this.pausedSince !== null;
  }

  /** Starts the descriptor probe (off with pauseOnExhaustion false, and in cluster workers). */
  start(): void {
    if (this.settings.pauseOnExhaustion && !cluster.isWorker) {
      this.probeTimer = setInterval(() => this.probe(), this.settings.descriptorProbeMs);
      this.probeTimer.unref();
    }
  }

  stopTimers(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.probeTimer = this.resumeTimer = null;
  }

  /** Stops for good: a paused listener is not resumed. */
  dispose(): void {
    this.disposed = true;
    this.stopTimers();
  }

  /** The application closes the server: never listen again. Returns whether it was paused. */
  applicationClose(): boolean {
    const wasPaused = this.pausedSince !== null;
    this.stopTimers();
    this.pausedSince = null;
    return wasPaused;
  }

  /** A 'listen' or 'bind' error: true when it was a resume's (then retried later), else the application's. */
  listenFailed(err: NodeJS.ErrnoException, code: string): boolean {
    if (!this.resuming || (err?.syscall !== 'listen' && err?.syscall !== 'bind')) return false;
    this.resuming = false;
    this.host.fail(code, `listening again failed: ${err.message}`);
    this.log.warn({ code }, 'listening again failed; retrying');
    this.scheduleResume();
    return true;
  }

  private probe(): void {
    if (this.pausedSince !== null || !this.listener?.listening) return;
    const code = probeDescriptor();
    if (code) this.pause(code);
  }

  /** Closes the listening handle (the server object stays) and schedules listening again. */
  pause(code: string): void {
    const listener = this.listener;
    if (!listener || this.pausedSince !== null || this.disposed || !this.settings.pauseOnExhaustion || cluster.isWorker) return;
    const address = listener.address();
    const handle = (listener as unknown as { _handle?: { close(): void } | null })._handle;
    if (!address || !handle) return;
    this.listenTarget = typeof address === 'string' ? { path: address } : { port: address.port, host: address.address };
    (listener as unknown as { _handle: null })._handle = null;
    handle.close();
    const now = Date.now();
    this.pausedSince = now;
    this.pauses++;
    this.host.fail(code, 'descriptors exhausted: listener paused');
    this.pauseMs =
      this.pauseMs === 0 || now - this.lastPauseEnd > this.settings.pauseResetMs
        ? this.settings.pauseInitialMs
        : Math.min(this.pauseMs * 2, this.settings.pauseMaxMs);
    this.log.warn({ code, pauseMs: this.pauseMs, address }, 'descriptors exhausted: listener paused');
    this.host.paused({ code, pauseMs: this.pauseMs, time: now });
    this.scheduleResume(false);
  }

  private scheduleResume(grow = true): void {
    if (this.disposed || this.pausedSince === null) return;
    if (grow) this.pauseMs = Math.min(this.pauseMs * 2, this.settings.pauseMaxMs);
    this.resumeTimer = setTimeout(() => this.resume(), this.pauseMs);
    this.resumeTimer.unref();
  }

  private resume(): void {
    this.resumeTimer = null;
    const listener = this.listener;
    if (!listener || this.pausedSince === null || !this.listenTarget) return;
    const code = probeDescriptor();
    if (code) {
      this.host.fail(code, 'descriptors still exhausted');
      this.scheduleResume();
      return;
    }
    this.resuming = true;
    try {
      listener.listen(this.listenTarget);
    } catch (err) {
      this.resuming = false;
      this.host.fail(errorCode(err), `listening again failed: ${(err as Error).message}`);
      this.scheduleResume();
    }
  }

  /** Returns true when this 'listening' is a resume (hidden from the application). */
  listening(): boolean {
    if (!this.resuming) return false;
    this.resuming = false;
    const now = Date.now();
    const pausedForMs = now - (this.pausedSince ?? now);
    this.pausedSince = null;
    this.lastPauseEnd = now;
    this.log.info({ pausedForMs }, 'listening again');
    this.host.resumed({ pausedForMs, time: now });
    return true;
  }
}
