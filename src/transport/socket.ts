/**
 * TCP and UDP sockets through {@link Libc}: listen, accept, connect with a
 * timeout, and the UDP socket vtund binds next to its TCP connection. All
 * sockets are non-blocking and close-on-exec; waiting happens in poll().
 */
import {
  AF_INET,
  AF_INET6,
  check,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  POLLOUT,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SysError,
  TCP_CONGESTION,
  TCP_NODELAY,
  TCP_NOTSENT_LOWAT,
  type Libc,
} from "../../ffi/libc.ts";
import { readFileSync } from "node:fs";
import { Errno } from "../../ffi/errno.ts";
import { decodeSockaddr, encodeSockaddr, formatEndpoint, SOCKADDR_MAX, type Endpoint } from "./address.ts";
import { Cancelled, waitFor } from "./wait.ts";

// One buffer for every int option: setsockopt() copies the value before it returns.
const optionValue = new Int32Array(1);
const optionBytes = new Uint8Array(optionValue.buffer);

/** setsockopt() of an int option, without allocating (options also change on the data path); the kernel's result: 0 or -errno. */
export function setIntSocketOption(libc: Libc, fd: number, level: number, name: number, value: number): number {
  optionValue[0] = value;
  return libc.setsockopt(fd, level, name, optionBytes, 4);
}

function setIntOption(libc: Libc, fd: number, level: number, name: number, value: number, what: string): void {
  check(setIntSocketOption(libc, fd, level, name, value), `socket: setsockopt(${what})`);
}

function newSocket(libc: Libc, family: 4 | 6, type: number): number {
  return check(
    libc.socket(family === 4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
    "socket: socket()",
  );
}

/** The local address of a socket (getsockname). */
export function localEndpoint(libc: Libc, fd: number): Endpoint {
  const buf = new Uint8Array(SOCKADDR_MAX);
  const len = new Uint32Array([SOCKADDR_MAX]);
  check(libc.getsockname(fd, buf, len), "socket: getsockname()");
  return decodeSockaddr(buf);
}

/** The peer address of a connected socket (getpeername). */
export function peerEndpoint(libc: Libc, fd: number): Endpoint {
  const buf = new Uint8Array(SOCKADDR_MAX);
  const len = new Uint32Array([SOCKADDR_MAX]);
  check(libc.getpeername(fd, buf, len), "socket: getpeername()");
  return decodeSockaddr(buf);
}

/** Creates a listening TCP socket on `bind` (SO_REUSEADDR, backlog 10 as vtund). */
export function listenTcp(libc: Libc, bind: Endpoint): number {
  const fd = newSocket(libc, bind.family, SOCK_STREAM);
  try {
    setIntOption(libc, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (bind.family === 6) setIntOption(libc, fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
    const addr = encodeSockaddr(bind);
    check(libc.bind(fd, addr, addr.length), `server: cannot listen on ${formatEndpoint(bind)}`, (code) =>
      code === "EADDRINUSE"
        ? "the port is already in use"
        : code === "EADDRNOTAVAIL"
        ? "no local interface has that address"
        : code === "EACCES"
        ? "a port below 1024 needs root"
        : undefined);
    check(libc.listen(fd, 10), "server: listen()");
    return fd;
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** Accepts one pending connection; null if none is waiting. */
export function acceptTcp(libc: Libc, listenFd: number): { fd: number; peer: Endpoint } | null {
  const buf = new Uint8Array(SOCKADDR_MAX);
  const len = new Uint32Array([SOCKADDR_MAX]);
  const fd = libc.accept4(listenFd, buf, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd === -Errno.EAGAIN || fd === -Errno.EINTR || fd === -Errno.ECONNABORTED) return null;
  check(fd, "server: accept()");
  return { fd, peer: decodeSockaddr(buf) };
}

/**
 * Connects a TCP socket to `to` within `timeoutMs` (optionally from `from`).
 * Gives up early with a "cancelled" error when `wakeFd` becomes readable.
 */
export function connectTcp(
  libc: Libc,
  to: Endpoint,
  timeoutMs: number,
  wakeFd: number,
  from?: Endpoint,
): number {
  const fd = newSocket(libc, to.family, SOCK_STREAM);
  try {
    setIntOption(libc, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (from) {
      const local = encodeSockaddr(from);
      check(libc.bind(fd, local, local.length), `client: cannot bind to ${formatEndpoint(from)}`);
    }
    const addr = encodeSockaddr(to);
    const r = libc.connect(fd, addr, addr.length);
    if (r < 0 && r !== -Errno.EINPROGRESS) throw new SysError(`client: connect to ${formatEndpoint(to)}`, r);
    if (r < 0) {
      const ready = waitFor(libc, fd, POLLOUT, timeoutMs, wakeFd);
      if (ready === "timeout") {
        throw new SysError(`client: connect to ${formatEndpoint(to)}`, -Errno.ETIMEDOUT, `no answer in ${timeoutMs / 1000} s`);
      }
      if (ready === "cancelled") throw new Cancelled("client: connect");
      const err = new Int32Array(1);
      check(libc.getsockopt(fd, SOL_SOCKET, SO_ERROR, new Uint8Array(err.buffer), new Uint32Array([4])), "client: getsockopt(SO_ERROR)");
      if (err[0] !== 0) throw new SysError(`client: connect to ${formatEndpoint(to)}`, -err[0]!);
    }
    return fd;
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** Sets what vtund sets on a TCP data connection once authenticated: SO_KEEPALIVE, TCP_NODELAY. */
export function tuneTcpSession(libc: Libc, fd: number): void {
  setIntOption(libc, fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  setIntOption(libc, fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
}

/**
 * Caps the data a TCP socket keeps unsent (TCP_NOTSENT_LOWAT): writes stop
 * taking more once `bytes` wait that were not sent yet, however large the
 * send buffer. On a link slower than the tunnel's sender, the packets inside
 * then wait in the TUN device's short queue and are dropped there, which
 * their own congestion control hears, instead of queueing for seconds in
 * the socket (see unsent_limit.ts). Data in flight is not limited. Returns
 * the kernel's result (0 or -errno); older kernels (before 3.12) refuse it,
 * which changes nothing else.
 */
export function limitUnsent(libc: Libc, fd: number, bytes: number): number {
  return setIntSocketOption(libc, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, bytes);
}

/** The socket's cap on unsent data (TCP_NOTSENT_LOWAT); 0 when none is set (the sysctl's default, normally unlimited, then applies). */
export function unsentLimit(libc: Libc, fd: number): number {
  const value = new Uint8Array(4);
  const len = new Uint32Array([4]);
  check(libc.getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, value, len), "socket: getsockopt(TCP_NOTSENT_LOWAT)");
  return new DataView(value.buffer).getInt32(0, true);
}

/** Longest congestion control name the kernel keeps, with its NUL (TCP_CA_NAME_MAX). */
const CONGESTION_NAME_MAX = 16;

/**
 * Sets the congestion control algorithm of a TCP socket (TCP_CONGESTION).
 * Throws a {@link SysError} that says why the kernel refused `name`.
 */
export function setTcpCongestion(libc: Libc, fd: number, name: string): void {
  const bytes = new TextEncoder().encode(name);
  check(libc.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, bytes, bytes.length), `tcp_congestion "${name}"`, congestionHint);
}

/** The congestion control algorithm a TCP socket uses (TCP_CONGESTION). */
export function tcpCongestion(libc: Libc, fd: number): string {
  const buf = new Uint8Array(CONGESTION_NAME_MAX);
  const len = new Uint32Array([CONGESTION_NAME_MAX]);
  check(libc.getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, len), "socket: getsockopt(TCP_CONGESTION)");
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? len[0] : end));
}

/**
 * Why this kernel would refuse `name` as a TCP socket's congestion control,
 * or null when it accepts it: the same setsockopt() on a throwaway socket,
 * so that a daemon can say so before it listens or connects.
 */
export function congestionProblem(libc: Libc, name: string): string | null {
  const fd = newSocket(libc, 4, SOCK_STREAM);
  try {
    setTcpCongestion(libc, fd, name);
    return null;
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    return e.message;
  } finally {
    libc.close(fd);
  }
}

function congestionHint(code: string): string | undefined {
  if (code === "ENOENT") return `no such algorithm in this kernel; available: ${availableCongestionControl() ?? "unknown"}`;
  if (code === "EPERM") return "not in net.ipv4.tcp_allowed_congestion_control, and no CAP_NET_ADMIN";
  return undefined;
}

function availableCongestionControl(): string | null {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_available_congestion_control", "utf8").trim();
  } catch {
    return null;
  }
}

/** Sets larger socket buffers (best effort; the kernel caps them at its limits). */
export function setSocketBuffers(libc: Libc, fd: number, bytes: number): void {
  setIntSocketOption(libc, fd, SOL_SOCKET, SO_SNDBUF, bytes);
  setIntSocketOption(libc, fd, SOL_SOCKET, SO_RCVBUF, bytes);
}

/**
 * Opens the UDP socket of a UDP session: same family, local address and port
 * as the TCP connection `tcpFd` (SO_REUSEADDR), as vtund does.
 */
export function bindUdpBesideTcp(libc: Libc, tcpFd: number): { fd: number; local: Endpoint } {
  const local = localEndpoint(libc, tcpFd);
  const fd = newSocket(libc, local.family, SOCK_DGRAM);
  try {
    setIntOption(libc, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    const addr = encodeSockaddr(local);
    check(libc.bind(fd, addr, addr.length), `udp: cannot bind to ${formatEndpoint(local)}`);
    return { fd, local: localEndpoint(libc, fd) };
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** Connects a UDP socket to its peer, so that plain send/recv talk only to it. */
export function connectUdp(libc: Libc, fd: number, peer: Endpoint): void {
  const addr = encodeSockaddr(peer);
  check(libc.connect(fd, addr, addr.length), `udp: connect to ${formatEndpoint(peer)}`);
}

