/**
 * The Bun backend of {@link Libc}: libc reached through `bun:ffi`.
 *
 * Typed arrays are passed as pointers without copying; the data-path calls
 * (read, write, send, recv) remember their last large buffer's address (see
 * `bun_address.ts`), others pass `ptr(buf, offset)`. errno is read through `__errno_location()` right
 * after the failing call, on the same thread (each Worker loads its own copy).
 */
import { dlopen, FFIType, ptr, read as peek } from "bun:ffi";
import { addressCache } from "./bun_address.ts";
import type { Libc } from "./libc.ts";

const { i32, u32, u64, ptr: pointer } = FFIType;

const LIBC_NAMES = ["libc.so.6", "libc.so"];

function openLibc() {
  const symbols = {
    __errno_location: { args: [], returns: pointer },
    open: { args: [pointer, i32, u32], returns: i32 },
    close: { args: [i32], returns: i32 },
    read: { args: [i32, pointer, u64], returns: i32 },
    write: { args: [i32, pointer, u64], returns: i32 },
    send: { args: [i32, pointer, u64, i32], returns: i32 },
    recv: { args: [i32, pointer, u64, i32], returns: i32 },
    recvfrom: { args: [i32, pointer, u64, i32, pointer, pointer], returns: i32 },
    ioctl: { args: [i32, u64, pointer], returns: i32 },
    poll: { args: [pointer, u64, i32], returns: i32 },
    pipe2: { args: [pointer, i32], returns: i32 },
    socket: { args: [i32, i32, i32], returns: i32 },
    bind: { args: [i32, pointer, u32], returns: i32 },
    connect: { args: [i32, pointer, u32], returns: i32 },
    listen: { args: [i32, i32], returns: i32 },
    accept4: { args: [i32, pointer, pointer, i32], returns: i32 },
    getsockname: { args: [i32, pointer, pointer], returns: i32 },
    getpeername: { args: [i32, pointer, pointer], returns: i32 },
    setsockopt: { args: [i32, i32, i32, pointer, u32], returns: i32 },
    getsockopt: { args: [i32, i32, i32, pointer, pointer], returns: i32 },
    shutdown: { args: [i32, i32], returns: i32 },
    socketpair: { args: [i32, i32, i32, pointer], returns: i32 },
    mlockall: { args: [i32], returns: i32 },
    madvise: { args: [u64, u64, i32], returns: i32 },
    getpid: { args: [], returns: i32 },
  } as const;
  // ioctl is variadic in C; its third argument is either a pointer or an integer.
  // Both are passed in the same register on x86_64 and arm64, so a second binding
  // with an integer argument is correct there.
  const valueSymbols = { ioctl: { args: [i32, u64, u64], returns: i32 } } as const;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      return { lib: dlopen(name, symbols), valueLib: dlopen(name, valueSymbols) };
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`ffi: cannot load libc (${LIBC_NAMES.join(", ")}): ${String(lastError)}`);
}

/** Creates the Bun backend. Call once per thread (the main thread and each Worker). */
export function createBunLibc(): Libc {
  const { lib, valueLib } = openLibc();
  const c = lib.symbols;
  const errnoLocation = c.__errno_location();
  if (errnoLocation === null) throw new Error("ffi: __errno_location() returned NULL");
  const fail = (r: number): number => (r < 0 ? -peek.i32(errnoLocation, 0) : r);
  const at = (buf: Uint8Array, offset: number) => (offset === 0 ? buf : ptr(buf, offset));
  // One cache per call site: each keeps seeing the same buffer (see bun_address.ts).
  const readAt = addressCache(), writeAt = addressCache(), sendAt = addressCache(), recvAt = addressCache();
  const encoder = new TextEncoder();
  const cString = (s: string) => encoder.encode(`${s}\0`);

  return {
    runtime: "bun",
    open: (path, flags, mode) => fail(c.open(cString(path), flags, mode)),
    close: (fd) => fail(c.close(fd)),
    read: (fd, buf, offset, length) => fail(c.read(fd, readAt(buf, offset), length)),
    write: (fd, buf, offset, length) => fail(c.write(fd, writeAt(buf, offset), length)),
    send: (fd, buf, offset, length, flags) => fail(c.send(fd, sendAt(buf, offset), length, flags)),
    recv: (fd, buf, offset, length, flags) => fail(c.recv(fd, recvAt(buf, offset), length, flags)),
    recvfrom: (fd, buf, offset, length, flags, addr, addrLen) =>
      fail(c.recvfrom(fd, at(buf, offset), length, flags, addr, addrLen)),
    ioctl: (fd, request, arg) => fail(c.ioctl(fd, request, arg)),
    ioctlValue: (fd, request, value) => fail(valueLib.symbols.ioctl(fd, request, value)),
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
