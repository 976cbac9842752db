/**
 * The Deno backend of {@link Libc}: libc reached through `Deno.dlopen` (Deno 2.9
 * needs only `--allow-ffi`, which `-A` grants; no `--unstable-ffi`).
 *
 * Every symbol is a plain blocking call: vtunts makes its calls from a worker
 * thread around `poll()`, never from the event loop. `nonblocking: true` is not
 * used on purpose: such a call runs on a thread pool, so the errno read after it
 * is not that call's (and it measured 4× slower per packet).
 *
 * Typed arrays are passed as `buffer` arguments without copying; a buffer with
 * an offset is passed as a `subarray`. errno is read through
 * `__errno_location()` right after the failing call, on the same thread (each
 * Worker loads its own copy of the library).
 */
import type { Libc } from "./libc.ts";

/** The part of Deno's FFI types this backend uses (Deno's own lib types are not part of the tsc build). */
interface DenoPointerView {
  getInt32(offset?: number): number;
}
interface DenoFfi {
  dlopen(path: string, symbols: Record<string, { parameters: readonly string[]; result: string }>): {
    symbols: Record<string, (...args: unknown[]) => unknown>;
    close(): void;
  };
  UnsafePointerView: new (pointer: object) => DenoPointerView;
}

const LIBC_NAMES = ["libc.so.6", "libc.so"];

/** One libc symbol as Deno declares it. */
interface Symbol {
  parameters: readonly string[];
  result: string;
}

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  // ioctl is variadic in C; a pointer and an integer travel in the same register
  // on x86_64 and arm64, so a second binding with an integer argument is correct there.
  ioctlValue: { parameters: ["i32", "u64", "u64"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  mlockall: { parameters: ["i32"], result: "i32" },
  madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
} as const satisfies Record<string, Symbol>;

/** A bound libc function: numbers and typed arrays in, a C int out. */
type IntFn = (...args: Array<number | Uint8Array | Int32Array | Uint32Array>) => number;

function denoFfi(): DenoFfi {
  const deno = (globalThis as { Deno?: DenoFfi }).Deno;
  if (deno === undefined) throw new Error("ffi: the Deno backend needs Deno");
  return deno;
}

function openLibc(deno: DenoFfi): Record<keyof typeof SYMBOLS, (...args: unknown[]) => unknown> {
  // Deno names symbols by key; ioctlValue is the same C function as ioctl.
  const { ioctlValue, ...plain } = SYMBOLS;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      const lib = deno.dlopen(name, plain);
      const valueLib = deno.dlopen(name, { ioctl: ioctlValue });
      return { ...lib.symbols, ioctlValue: valueLib.symbols.ioctl! } as Record<keyof typeof SYMBOLS, (...args: unknown[]) => unknown>;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`ffi: cannot load libc (${LIBC_NAMES.join(", ")}) with Deno.dlopen: ${String(lastError)} (run deno with -A or --allow-ffi)`);
}

/** Creates the Deno backend. Call once per thread (the main thread and each Worker). */
export function createDenoLibc(): Libc {
  const deno = denoFfi();
  const symbols = openLibc(deno);
  const c = symbols as unknown as Record<keyof typeof SYMBOLS, IntFn>;
  const errnoLocation = symbols.__errno_location() as object | null;
  if (errnoLocation === null) throw new Error("ffi: __errno_location() returned NULL");
  const errnoView = new deno.UnsafePointerView(errnoLocation);
  const fail = (r: number): number => (r < 0 ? -errnoView.getInt32(0) : r);
  const at = (buf: Uint8Array, offset: number) => (offset === 0 ? buf : buf.subarray(offset));
  const encoder = new TextEncoder();
  const cString = (s: string) => encoder.encode(`${s}\0`);

  return {
    runtime: "deno",
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
