/**
 * Linux errno numbers and their names (asm-generic; identical on x86_64 and arm64).
 * Used to turn the `-errno` results of {@link Libc} calls into readable errors.
 */

/** errno values the daemon tests for by value. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  EPIPE: 32,
  ENOSYS: 38,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;

const names = new Map<number, string>(
  Object.entries(Errno).map(([name, value]) => [value, name]),
);

/** The symbolic name of an errno value (`11` → `"EAGAIN"`), or `"errno N"` if unknown. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return names.get(n) ?? `errno ${n}`;
}
