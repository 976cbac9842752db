/**
 * The one interface between vtunts and the operating system: a handful of libc
 * calls, reached through each runtime's FFI (see `bun.ts`; Deno and Node
 * backends implement the same interface).
 *
 * Every call returns what the C function returns, except that a failure comes
 * back as `-errno` instead of `-1` + errno. The hot path can then test `n < 0`
 * without exceptions or allocations, and the errno of the call is never lost
 * to a later one.
 */
import { errnoName } from "./errno.ts";

/** Raw libc calls. Buffers are passed without copying. */
export interface Libc {
  /** Which runtime's FFI this backend uses. */
  readonly runtime: "bun" | "deno" | "node";
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  /** read(2) into `buf[offset, offset+length)`. */
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** write(2) from `buf[offset, offset+length)`. */
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** send(2) from `buf[offset, offset+length)` (sockets only; use MSG_NOSIGNAL). */
  send(fd: number, buf: Uint8Array, offset: number, length: number, flags: number): number;
  /** recv(2) into `buf[offset, offset+length)` (sockets only). */
  recv(fd: number, buf: Uint8Array, offset: number, length: number, flags: number): number;
  /** recvfrom(2) into `buf[offset, offset+length)`; the source address goes to `addr`, its length to `addrLen[0]` (in/out). */
  recvfrom(fd: number, buf: Uint8Array, offset: number, length: number, flags: number, addr: Uint8Array, addrLen: Uint32Array): number;
  /** ioctl(2) whose argument is a pointer to `arg`. */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /** ioctl(2) whose argument is the integer itself (e.g. TUNSETOFFLOAD). */
  ioctlValue(fd: number, request: number, value: number): number;
  /** poll(2) over `nfds` `struct pollfd` records (8 bytes each) in `fds`. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  /** pipe2(2); the two fds are stored into `fds[0]` (read end) and `fds[1]`. */
  pipe2(fds: Int32Array, flags: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, addrLen: number): number;
  connect(fd: number, addr: Uint8Array, addrLen: number): number;
  listen(fd: number, backlog: number): number;
  /** accept4(2); the peer address goes to `addr`, its length to `addrLen[0]` (in/out). */
  accept4(fd: number, addr: Uint8Array, addrLen: Uint32Array, flags: number): number;
  getsockname(fd: number, addr: Uint8Array, addrLen: Uint32Array): number;
  getpeername(fd: number, addr: Uint8Array, addrLen: Uint32Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, valueLen: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, valueLen: Uint32Array): number;
  shutdown(fd: number, how: number): number;
  /** socketpair(2); the two fds are stored into `fds[0]` and `fds[1]`. */
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  /** mlockall(2) (vtund's `-m`). */
  mlockall(flags: number): number;
  /** madvise(2) on `[address, address+length)`, an address from /proc/self/maps. */
  madvise(address: number, length: number, advice: number): number;
  getpid(): number;
}

/** An operating-system call that failed, with the errno name in the message. */
export class SysError extends Error {
  /** The errno value (positive). */
  readonly errno: number;
  /** The errno name, e.g. `"EBUSY"`. */
  readonly code: string;
  constructor(what: string, result: number, hint?: string) {
    const code = errnoName(result);
    super(`${what}: ${code}${hint ? ` (${hint})` : ""}`);
    this.name = "SysError";
    this.errno = Math.abs(result);
    this.code = code;
  }
}

/** Returns `result` if it is not an error, else throws a {@link SysError} describing `what`. */
export function check(result: number, what: string, hint?: (code: string) => string | undefined): number {
  if (result < 0) {
    throw new SysError(what, result, hint?.(errnoName(result)));
  }
  return result;
}

/** Flags and constants of the calls above (Linux, x86_64 and arm64). */
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_RCVLOWAT = 18;
export const IPPROTO_TCP = 6;
export const IPPROTO_IPV6 = 41;
export const TCP_NODELAY = 1;
export const TCP_INFO = 11;
export const TCP_CONGESTION = 13;
export const TCP_NOTSENT_LOWAT = 25;
export const IPV6_V6ONLY = 26;
export const SHUT_RDWR = 2;
export const MSG_PEEK = 0x02;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;

export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
