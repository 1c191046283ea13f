/**
 * Error classes with stable `code`s. Catch by class or switch on `code`;
 * messages say what happened and what to do about it.
 */

export class RouteguardError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** routeguard only works on Linux (it reads the kernel's NETLINK_ROUTE). */
export class NotLinuxError extends RouteguardError {
  constructor(platform: string) {
    super('ERR_NOT_LINUX', `routeguard needs Linux (netlink); this is ${platform}`);
  }
}

/** The JS runtime lacks what the monitor needs of Node (see platform.ts). */
export class UnsupportedRuntimeError extends RouteguardError {
  constructor(runtime: string) {
    super(
      'ERR_UNSUPPORTED_RUNTIME',
      `routeguard's NetlinkMonitor needs Node.js (or Deno): ${runtime} has no libuv uv_poll, which the addon waits on ` +
        'its netlink socket with, and would abort the process (oven-sh/bun#18546). Installing with Bun is fine; ' +
        'run the application with `node`.',
    );
  }
}

/**
 * The native addon could not be loaded (not built, wrong ABI, missing libc symbols). The message is
 * one paragraph: the loader's own message spans lines ("No native build was found ...\n    loaded
 * from: ..."), which logs one line per entry would cut apart.
 */
export class AddonLoadError extends RouteguardError {
  constructor(cause: unknown) {
    const detail = String((cause as Error)?.message ?? cause).replace(/\s+/g, ' ').trim();
    super(
      'ERR_ADDON_LOAD',
      `routeguard's native addon failed to load (${detail}). ` +
        'Prebuilt binaries cover Linux x64 and arm64 with glibc 2.28 or newer; anywhere else (Alpine and other musl ' +
        'systems, other architectures) the addon is compiled from source when the package is installed, which needs ' +
        'python3, make and a C++ compiler: on Alpine run `apk add build-base python3 linux-headers`, on Debian or Ubuntu ' +
        '`apt-get install build-essential python3`, then `npm rebuild routeguard` (with install scripts allowed).',
      { cause },
    );
  }
}

/** The kernel refused an operation for lack of privilege (e.g. entering another network namespace). */
export class PermissionDeniedError extends RouteguardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PERMISSION_DENIED', message, options);
  }
}

/** A network namespace path that does not exist or is not a network namespace. */
export class BadNamespaceError extends RouteguardError {
  readonly path: string;

  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(
      'ERR_BAD_NETNS',
      `cannot use network namespace "${path}": ${detail}. ` +
        'Give a path like /run/netns/NAME (see `ip netns list`) or /proc/PID/ns/net',
      options,
    );
    this.path = path;
  }
}

/** An argument a caller passed is invalid; the message says which and why. */
export class InvalidArgumentError extends RouteguardError {
  constructor(message: string) {
    super('ERR_INVALID_ARG', message);
  }
}

/** The operation needs a monitor that is open (started and not closed). */
export class MonitorClosedError extends RouteguardError {
  constructor(what: string) {
    super('ERR_MONITOR_CLOSED', `${what}: the monitor is closed`);
  }
}

/** A netlink socket operation failed in a way that is not the caller's fault. */
export class NetlinkError extends RouteguardError {
  readonly errno: number | undefined;
  readonly syscall: string | undefined;

  constructor(message: string, errno?: number, syscall?: string, options?: { cause?: unknown }) {
    super('ERR_NETLINK', message, options);
    this.errno = errno;
    this.syscall = syscall;
  }
}
