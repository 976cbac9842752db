/**
 * TCP_CONGESTION on real sockets (`tcp_congestion`): read back what was set,
 * and the kernel's refusals turned into messages that say what to do.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { loadLibc } from "../../ffi/index.ts";
import { Errno } from "../../ffi/errno.ts";
import { IPPROTO_TCP, SysError, TCP_CONGESTION } from "../../ffi/libc.ts";
import { congestionProblem, setTcpCongestion, tcpCongestion } from "./socket.ts";
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
