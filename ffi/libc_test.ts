/**
 * The libc backend of the runtime running this file (bun:ffi, Deno.dlopen or
 * koffi) passes buffers and offsets correctly and reports each failing call's
 * own errno. `scripts/test` runs this file under Bun, Deno and Node.
 *
 * The TUN checks need root and /dev/net/tun (they fail, never skip, without);
 * they create one transient, never-up TUN device named `vtffi<pid>` that
 * disappears when its fds close.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Errno, errnoName } from "./errno.ts";
import { createLibc, detectRuntime, type Libc } from "./index.ts";
import { AF_UNIX, O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLIN, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK } from "./libc.ts";

const TUNSETIFF = 0x400454ca;
const IFF_TUN_NO_PI = 0x1001;

function ifreq(name: string): Uint8Array {
  const buf = new Uint8Array(40);
  buf.set(new TextEncoder().encode(name));
  new DataView(buf.buffer).setUint16(16, IFF_TUN_NO_PI, true);
  return buf;
}

/** Asserts that `result` is `-errno` for the errno named `name`. */
function assertErrno(result: number, name: keyof typeof Errno, what: string): void {
  assert.equal(errnoName(result), name, `${what}: expected -${name}, got ${result} (${result < 0 ? errnoName(result) : "success"})`);
}

describe(`libc backend of ${detectRuntime()}`, () => {
  let libc: Libc;
  before(async () => {
    libc = await createLibc();
  });

  it("is the backend of this runtime", () => {
    assert.equal(libc.runtime, detectRuntime());
    assert.equal(libc.getpid(), process.pid);
  });

  it("reports ENOENT and EBADF, and a later success is not an error", () => {
    assertErrno(libc.open("/nonexistent/vtunts-ffi-test", O_RDWR, 0), "ENOENT", "open(missing)");
    assertErrno(libc.close(-1), "EBADF", "close(-1)");
    assertErrno(libc.read(-1, new Uint8Array(4), 0, 4), "EBADF", "read(-1)");
    const fd = libc.open("/dev/null", O_RDWR | O_CLOEXEC, 0);
    assert.ok(fd >= 0, `open(/dev/null) = ${fd}`);
    assert.equal(libc.close(fd), 0);
  });

  it("reads and writes at buffer offsets, and EAGAIN on an empty non-blocking pipe", () => {
    const fds = new Int32Array(2);
    assert.equal(libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    const [r, w] = [fds[0]!, fds[1]!];
    try {
      const out = new Uint8Array([9, 9, 1, 2, 3, 4, 9]);
      assert.equal(libc.write(w, out, 2, 4), 4);
      const pollfd = new Uint8Array(8);
      const view = new DataView(pollfd.buffer);
      view.setInt32(0, r, true);
      view.setInt16(4, POLLIN, true);
      assert.equal(libc.poll(pollfd, 1, 1000), 1);
      assert.equal(view.getInt16(6, true) & POLLIN, POLLIN);
      const into = new Uint8Array(8);
      assert.equal(libc.read(r, into, 3, 5), 4);
      assert.deepEqual([...into], [0, 0, 0, 1, 2, 3, 4, 0]);
      assertErrno(libc.read(r, into, 0, 8), "EAGAIN", "read(empty pipe)");
      assert.equal(libc.poll(pollfd, 1, 0), 0);
    } finally {
      libc.close(r);
      libc.close(w);
    }
  });

  it("reads, writes, sends and receives at the right place as large and small buffers, and views of one ArrayBuffer, take turns", () => {
    // The Bun backend remembers each call's last large buffer (ffi/bun_address.ts): every switch must be seen.
    const fds = new Int32Array(2);
    assert.equal(libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    const socks = new Int32Array(2);
    assert.equal(libc.socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, socks), 0);
    try {
      const whole = new ArrayBuffer(3 * 65536);
      const a = new Uint8Array(whole, 0, 65536);
      const b = new Uint8Array(whole, 65536, 65536); // same ArrayBuffer, another view object
      const big = new Uint8Array(100_000);
      const small = new Uint8Array(64);
      const buffers = [a, b, a, big, small, big, b, small, a] as const;
      let n = 0;
      for (const [pair, write, read] of [
        [fds, libc.write.bind(libc), libc.read.bind(libc)],
        [socks, (fd: number, buf: Uint8Array, at: number, len: number) => libc.send(fd, buf, at, len, 0), (fd: number, buf: Uint8Array, at: number, len: number) => libc.recv(fd, buf, at, len, 0)],
      ] as const) {
        for (const [i, from] of buffers.entries()) {
          const to = buffers[(i + 4) % buffers.length]!;
          const at = (7 * i + 3) % 40;
          const into = (11 * i + 5) % 40;
          const bytes = [i + 1, 0x5a, n++ & 0xff, 0xa5];
          from.set(bytes, at);
          assert.equal(write(pair[1]!, from, at, 4), 4, `write #${i}`);
          to.fill(0, into, into + 8);
          assert.equal(read(pair[0]!, to, into, 8), 4, `read #${i}`);
          assert.deepEqual([...to.subarray(into, into + 4)], bytes, `buffer #${i}: bytes went to or came from the wrong place`);
        }
      }
    } finally {
      for (const fd of [...fds, ...socks]) libc.close(fd);
    }
  });

  it("TUNSETIFF on a pipe is ENOTTY", () => {
    const fds = new Int32Array(2);
    assert.equal(libc.pipe2(fds, O_CLOEXEC), 0);
    try {
      assertErrno(libc.ioctl(fds[0]!, TUNSETIFF, ifreq("vtffix")), "ENOTTY", "ioctl(pipe, TUNSETIFF)");
    } finally {
      libc.close(fds[0]!);
      libc.close(fds[1]!);
    }
  });

  describe("TUN (needs root)", () => {
    const name = `vtffi${process.pid % 1_000_000}`;
    const open: number[] = [];
    const openTunFd = () => {
      const fd = libc.open("/dev/net/tun", O_RDWR | O_CLOEXEC, 0);
      assert.ok(fd >= 0, `open(/dev/net/tun): ${errnoName(fd)}`);
      open.push(fd);
      return fd;
    };
    before(() => {
      if (process.getuid?.() !== 0) throw new Error("the TUN errno tests need root");
      if (!existsSync("/dev/net/tun")) throw new Error("the TUN errno tests need /dev/net/tun");
    });
    after(() => {
      for (const fd of open) libc.close(fd);
    });

    it("creates a device and gets its name back; the same name again is EBUSY; unknown ioctls are EINVAL", () => {
      const first = openTunFd();
      const req = ifreq(name);
      assert.equal(libc.ioctl(first, TUNSETIFF, req), 0);
      assert.equal(new TextDecoder().decode(req.subarray(0, name.length)), name);
      const second = openTunFd();
      assertErrno(libc.ioctl(second, TUNSETIFF, ifreq(name)), "EBUSY", `TUNSETIFF(${name}) twice`);
      // _IOW('T', 250, int): no such TUN ioctl; the tun driver answers EINVAL on an attached fd.
      assertErrno(libc.ioctl(first, 0x400454fa, new Uint8Array(8)), "EINVAL", "ioctl(tun, unknown)");
    });

    it("an ioctl by value reaches the kernel: TUNSETOFFLOAD on a detached TUN fd is EBADFD", () => {
      const fd = openTunFd();
      const r = libc.ioctlValue(fd, 0x400454d0, 0);
      assert.equal(r, -77, `ioctlValue(TUNSETOFFLOAD) on a detached fd: ${r} (${errnoName(r)}), expected -77 (EBADFD)`);
    });
  });
});
