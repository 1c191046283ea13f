/**
 * Where routeguard can watch the network. Only Linux has NETLINK_ROUTE; elsewhere the package
 * still installs and imports (so an application that uses it runs on a macOS or Windows laptop):
 * NetlinkMonitor.start() rejects with ERR_NOT_LINUX and ConnectionGuard defaults to inert.
 */
export function isLinux(): boolean {
  return process.platform === 'linux';
}
