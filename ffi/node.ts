/**
 * The Node backend of {@link Libc}: libc reached through `koffi` (prebuilt for
 * Node 20; `ffi-napi` 4.0.3 does not build on Node 20, see README).
 *
 * Typed arrays passed as `void *` reach C as a pointer to their contents
 * (koffi copies nothing for buffers used only during the call); a buffer with an
 * offset is passed as a `subarray`. errno is `koffi.errno()`, read right after
 * the failing call on the same thread (each Worker loads its own copy).
 */
import koffi from "koffi";
import type { Libc } from "./libc.ts";

const LIBC_NAMES = ["libc.so.6", "libc.so"];

/** C prototypes, in koffi's syntax. */
const PROTOTYPES = {
  open: "int open(void *path, int flags, uint32_t mode)",
  close: "int close(int fd)",
  read: "int read(int fd, void *buf, size_t count)",
  write: "int write(int fd, void *buf, size_t count)",
  send: "int send(int fd, void *buf, size_t len, int flags)",
  recv: "int recv(int fd, void *buf, size_t len, int flags)",
  recvfrom: "int recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrLen)",
  ioctl: "int ioctl(int fd, unsigned long request, void *arg)",
  // ioctl is variadic in C; a pointer and an integer travel in the same register
  // on x86_64 and arm64, so a second binding with an integer argument is correct there.
  ioctlValue: "int ioctl(int fd, unsigned long request, unsigned long value)",
  poll: "int poll(void *fds, unsigned long nfds, int timeout)",
  pipe2: "int pipe2(void *fds, int flags)",
  socket: "int socket(int domain, int type, int protocol)",
  bind: "int bind(int fd, void *addr, uint32_t len)",
  connect: "int connect(int fd, void *addr, uint32_t len)",
  listen: "int listen(int fd, int backlog)",
  accept4: "int accept4(int fd, void *addr, void *len, int flags)",
  getsockname: "int getsockname(int fd, void *addr, void *len)",
  getpeername: "int getpeername(int fd, void *addr, void *len)",
  setsockopt: "int setsockopt(int fd, int level, int name, void *value, uint32_t len)",
  getsockopt: "int getsockopt(int fd, int level, int name, void *value, void *len)",
  shutdown: "int shutdown(int fd, int how)",
  socketpair: "int socketpair(int domain, int type, int protocol, void *fds)",
  mlockall: "int mlockall(int flags)",
  madvise: "int madvise(uintptr_t addr, size_t length, int advice)",
  getpid: "int getpid()",
} as const;

/** A bound libc function: numbers and typed arrays in, a C int out. */
type IntFn = (...args: Array<number | Uint8Array | Int32Array | Uint32Array>) => number;

function openLibc(): Record<keyof typeof PROTOTYPES, IntFn> {
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      const lib = koffi.load(name);
      const fns = {} as Record<keyof typeof PROTOTYPES, IntFn>;
      for (const [key, prototype] of Object.entries(PROTOTYPES) as Array<[keyof typeof PROTOTYPES, string]>) {
        fns[key] = lib.func(prototype) as IntFn;
      }
      return fns;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`ffi: cannot load libc (${LIBC_NAMES.join(", ")}) with koffi: ${String(lastError)}`);
}

/** Creates the Node backend. Call once per thread (the main thread and each Worker). */
export function createNodeLibc(): Libc {
  const c = openLibc();
  const fail = (r: number): number => (r < 0 ? -koffi.errno() : r);
  const at = (buf: Uint8Array, offset: number) => (offset === 0 ? buf : buf.subarray(offset));
  const encoder = new TextEncoder();
  const cString = (s: string) => encoder.encode(`${s}\0`);

  return {
    runtime: "node",
    open: (path, flags, mode) => fail(c.open(cString(path), flags, mode)),
    close: (fd) => fail(c.close(fd)),
    read: (fd, buf, offset, length) => fail(c.read(fd, at(buf, offset), length)),
    write: (fd, buf, offset, length) => fail(c.write(fd, at(buf, offset), length)),
    send: (fd, buf, offset, length, flags) => fail(c.send(fd, at(buf, offset), length, flags)),
    recv: (fd, buf, offset, length, flags) => fail(c.recv(fd, at(buf, offset), length, flags)),
    recvfrom: (fd, buf, offset, length, flags, addr, addrLen) =>
      fail(c.recvfrom(fd, at(buf, offset), length, flags, addr, addrLen)),
    ioctl: (fd, request, arg) => fail(c.ioctl(fd, request, arg)),
    ioctlValue: (fd, request, value) => fail(c.ioctlValue(fd, request, value)),
    poll: (fds, nfds, timeoutMs) => fail(c.poll(fds, nfds, timeoutMs)),
    pipe2: (fds, flags) => fail(c.pipe2(fds, flags)),
    socket: (domain, type, protocol) => fail(c.socket(domain, type, protocol)),
    bind: (fd, addr, len) => fail(c.bind(fd, addr, len)),
    connect: (fd, addr, len) => fail(c.connect(fd, addr, len)),
    listen: (fd, backlog) => fail(c.listen(fd, backlog)),
    accept4: (fd, addr, addrLen, flags) => fail(c.accept4(fd, addr, addrLen, flags)),
    getsockname: (fd, addr, addrLen) => fail(c.getsockname(fd, addr, addrLen)),
    getpeername: (fd, addr, addrLen) => fail(c.getpeername(fd, addr, addrLen)),
    setsockopt: (fd, level, name, value, len) => fail(c.setsockopt(fd, level, name, value, len)),
    getsockopt: (fd, level, name, value, len) => fail(c.getsockopt(fd, level, name, value, len)),
    shutdown: (fd, how) => fail(c.shutdown(fd, how)),
    socketpair: (domain, type, protocol, fds) => fail(c.socketpair(domain, type, protocol, fds)),
    mlockall: (flags) => fail(c.mlockall(flags)),
    madvise: (address, length, advice) => fail(c.madvise(address, length, advice)),
    getpid: () => c.getpid(),
  };
}
