/**
 * Where routeguard can watch the network. Only Linux has NETLINK_ROUTE; elsewhere the package
 * still installs and imports (so an application that uses it runs on a macOS or Windows laptop):
 * NetlinkMonitor.start() rejects with ERR_NOT_LINUX and ConnectionGuard defaults to inert.
 *
 * On Linux, the monitor also needs a runtime whose Node-API gives it libuv's event loop: it
 * waits on its netlink socket with uv_poll. Bun's runtime has no uv_poll and aborts the whole
 * process at uv_poll_init (oven-sh/bun#18546), so there start() rejects with
 * ERR_UNSUPPORTED_RUNTIME instead. Deno's Node compatibility layer has it and works.
 */
export function isLinux(): boolean {
  return process.platform === 'linux';
}

/** The JS runtime the monitor cannot run on ("Bun 1.4.5"), or null where it can. */
export function unsupportedRuntime(): string | null {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return bun ? `Bun ${bun}` : null;
}

/** Whether a NetlinkMonitor can start here (Linux, under Node or another runtime with uv_poll). */
export function canMonitor(): boolean {
  return isLinux() && unsupportedRuntime() === null;
}
