/**
 * hardenServer's options checked (a clear InvalidArgumentError naming the option)
 * and resolved against SERVER_DEFAULTS and PROBE_DEFAULTS.
 */
import { InvalidArgumentError } from '../errors';
import { checkTimerMs } from '../timer-ms';
import { PROBE_DEFAULTS, SERVER_DEFAULTS } from './defaults';
import { checkSettings } from './guard-options';
import type { HardenOptions } from './hardened-server-types';
import { checkKeepaliveOption, type KeepaliveSettings } from './keepalive-probe';

/** How the listener is paused while descriptors are exhausted. */
export interface PauseSettings {
  pauseOnExhaustion: boolean;
  descriptorProbeMs: number;
  pauseInitialMs: number;
  pauseMaxMs: number;
  pauseResetMs: number;
}

export interface ResolvedHardenOptions {
  pause: PauseSettings;
  /** Keepalive for accepted sockets (keepaliveProbe), or null when off. */
  keepalive: KeepaliveSettings | null;
}

/** Throws InvalidArgumentError for bad options. */
export function resolveHardenOptions(options: HardenOptions): ResolvedHardenOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('hardenServer: options must be an object');
  checkTimerMs('hardenServer: descriptorProbeMs', options.descriptorProbeMs, 10);
  checkTimerMs('hardenServer: pauseInitialMs', options.pauseInitialMs, 1);
  checkTimerMs('hardenServer: pauseMaxMs', options.pauseMaxMs, 1);
  checkTimerMs('hardenServer: pauseResetMs', options.pauseResetMs);
  checkKeepaliveOption(options.keepaliveProbe, 'hardenServer: keepaliveProbe');
  // Used for every accepted connection: a wrong one would fail each tracking, only logged.
  if (options.guard !== undefined && typeof (options.guard as { track?: unknown } | null)?.track !== 'function') {
    throw new InvalidArgumentError('hardenServer: guard must be a ConnectionGuard');
  }
  if (options.track !== undefined) {
    if (options.track === null || typeof options.track !== 'object') throw new InvalidArgumentError('hardenServer: track must be an object of track() options');
    checkSettings(options.track, 'hardenServer: track');
  }
  const probe = options.keepaliveProbe;
  return {
    pause: {
      pauseOnExhaustion: options.pauseOnExhaustion ?? true,
      descriptorProbeMs: options.descriptorProbeMs ?? SERVER_DEFAULTS.descriptorProbeMs,
      pauseInitialMs: options.pauseInitialMs ?? SERVER_DEFAULTS.pauseInitialMs,
      pauseMaxMs: options.pauseMaxMs ?? SERVER_DEFAULTS.pauseMaxMs,
      pauseResetMs: options.pauseResetMs ?? SERVER_DEFAULTS.pauseResetMs,
    },
    keepalive: probe ? { ...PROBE_DEFAULTS.server, ...(probe === true ? {} : probe) } : null,
  };
}
