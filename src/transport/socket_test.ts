/**
 * TCP_CONGESTION on real sockets (`tcp_congestion`): read back what was set,
 * and the kernel's refusals turned into messages that say what to do. And
 * the cap on unsent data (TCP_NOTSENT_LOWAT) that keeps a slow link's
 * backlog out of the send buffer.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { loadLibc } from "../../ffi/index.ts";
import { Errno } from "../../ffi/errno.ts";
import { IPPROTO_TCP, MSG_NOSIGNAL, SysError, TCP_CONGESTION } from "../../ffi/libc.ts";
import { congestionProblem, limitUnsent, setSocketBuffers, setTcpCongestion, tcpCongestion, unsentLimit } from "./socket.ts";
import { loopbackTcpPair, recordingSocketOption } from "../../test/fakes/tcp_sockets.ts";

const libc = await loadLibc();
const systemDefault = readFileSync("/proc/sys/net/ipv4/tcp_congestion_control", "utf8").trim();
const available = readFileSync("/proc/sys/net/ipv4/tcp_available_congestion_control", "utf8").trim().split(/\s+/);
// reno is always built in; another one shows that the setting, not the default, is read back.
const other = available.find((name) => name !== systemDefault) ?? "reno";
const openFds = () => readdirSync("/proc/self/fd").length;

describe("TCP congestion control of a socket", () => {
  it("a connection starts with the system's default and takes another one", () => {
    const pair = loopbackTcpPair(libc);
    try {
      assert.equal(tcpCongestion(libc, pair.client), systemDefault);
      setTcpCongestion(libc, pair.client, other);
      assert.equal(tcpCongestion(libc, pair.client), other);
      assert.equal(tcpCongestion(libc, pair.server), systemDefault, "the other end keeps its own");
    } finally {
      pair.close();
    }
  });

  it("an algorithm the kernel does not have: ENOENT, with the ones it has", () => {
    const pair = loopbackTcpPair(libc);
    try {
      assert.throws(() => setTcpCongestion(libc, pair.client, "vtunts_nosuch"), (e: unknown) => {
        assert.ok(e instanceof SysError);
        assert.equal(e.code, "ENOENT");
        assert.match(e.message, /^tcp_congestion "vtunts_nosuch": ENOENT \(no such algorithm in this kernel; available: .*\breno\b/);
        return true;
      });
      assert.equal(tcpCongestion(libc, pair.client), systemDefault, "left as it was");
    } finally {
      pair.close();
    }
  });

  it("congestionProblem tries a name on a throwaway socket and closes it", () => {
    const before = openFds();
    assert.equal(congestionProblem(libc, other), null);
    assert.match(congestionProblem(libc, "vtunts_nosuch") ?? "", /ENOENT \(no such algorithm in this kernel/);
    assert.equal(openFds(), before, "no socket left open");
  });

  it("EPERM (not allowed, no CAP_NET_ADMIN) says which sysctl allows it", () => {
    const { libc: refusing } = recordingSocketOption(libc, IPPROTO_TCP, TCP_CONGESTION, () => null, -Errno.EPERM);
    assert.match(congestionProblem(refusing, "cubic") ?? "", /EPERM \(not in net\.ipv4\.tcp_allowed_congestion_control, and no CAP_NET_ADMIN\)/);
  });
});

/** ioctl SIOCOUTQNSD: bytes in a TCP socket's send queue not sent yet. */
const SIOCOUTQNSD = 0x894b;

/** Writes to `fd` (whose peer never reads) until the socket takes no more; returns the bytes it holds unsent. */
function fillUntilRefused(fd: number): number {
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < 10_000; i++) {
    const r = libc.send(fd, chunk, 0, chunk.length, MSG_NOSIGNAL);
    if (r === -Errno.EAGAIN) break;
    assert.ok(r > 0, `send: ${r}`);
  }
  const value = new Uint8Array(4);
  assert.equal(libc.ioctl(fd, SIOCOUTQNSD, value), 0);
  return new DataView(value.buffer).getInt32(0, true);
}

describe("unsent data of a TCP socket (TCP_NOTSENT_LOWAT)", () => {
  const buffer = 4 * 1024 * 1024;
  const limit = 32 * 1024;

  it("reads back the cap that was set; none by default", () => {
    const pair = loopbackTcpPair(libc);
    try {
      assert.equal(unsentLimit(libc, pair.client), 0);
      assert.equal(limitUnsent(libc, pair.client, limit), 0);
      assert.equal(unsentLimit(libc, pair.client), limit);
    } finally {
      pair.close();
    }
  });

  it("writes stop near the cap when the peer does not read, not at the send buffer's size", () => {
    // The same 4 MiB send buffer both times: without the cap it fills with unsent data.
    const plain = loopbackTcpPair(libc);
    const capped = loopbackTcpPair(libc);
    try {
      setSocketBuffers(libc, plain.client, buffer);
      setSocketBuffers(libc, capped.client, buffer);
      limitUnsent(libc, capped.client, limit);
      const unsentPlain = fillUntilRefused(plain.client);
      const unsentCapped = fillUntilRefused(capped.client);
      assert.ok(unsentPlain > 1024 * 1024, `without the cap ${unsentPlain} bytes wait unsent`);
      // One write may overshoot the cap by what it was copying (at most one 64 KiB write here).
      assert.ok(unsentCapped <= limit + 64 * 1024, `with a ${limit}-byte cap ${unsentCapped} bytes wait unsent`);
    } finally {
      plain.close();
      capped.close();
    }
  });
});
