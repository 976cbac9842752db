/**
 * UnsentLimit: TCP_NOTSENT_LOWAT at 2 ms of the connection's pacing rate,
 * on a real loopback connection whose pacing rate is capped
 * (SO_MAX_PACING_RATE), so the rate read from TCP_INFO is known; and the
 * decisions around it (when it looks, what it sets, a refusing kernel).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { Errno } from "../../ffi/errno.ts";
import { IPPROTO_TCP, MSG_NOSIGNAL, SOL_SOCKET, TCP_NOTSENT_LOWAT } from "../../ffi/libc.ts";
import { setIntSocketOption, unsentLimit } from "./socket.ts";
import { RATE_LOOKS, RATE_WINDOW_MS, UNSENT_MAX, UNSENT_MIN, UNSENT_START, UNSENT_UPDATE_BYTES, UnsentLimit, unsentLimitFor } from "./unsent_limit.ts";
import { loopbackTcpPair, recordingIntOption } from "../../test/fakes/tcp_sockets.ts";

const libc = await loadLibc();
const SO_MAX_PACING_RATE = 47;

/** Sends `bytes` from `pair.client` to `pair.server`, which reads them all, telling `limit` about every send. */
function pump(pair: { client: number; server: number }, bytes: number, limit: UnsentLimit): void {
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  let received = 0;
  for (let spins = 0; received < bytes && spins < 1_000_000; spins++) {
    if (sent < bytes) {
      const r = libc.send(pair.client, chunk, 0, Math.min(chunk.length, bytes - sent), MSG_NOSIGNAL);
      if (r > 0) {
        sent += r;
        limit.afterSend(r);
      } else assert.equal(r, -Errno.EAGAIN, `send: ${r}`);
    }
    const r = libc.recv(pair.server, chunk, 0, chunk.length, 0);
    if (r > 0) received += r;
    else assert.equal(r, -Errno.EAGAIN, `recv: ${r}`);
  }
  assert.equal(received, bytes, "everything arrived");
}

/**
 * A libc whose TCP_INFO reports `kernel.rate` as the pacing rate (at byte 104,
 * the kernel's layout; the real-socket test checks that offset), counting the
 * lookups in `kernel.looks`, and records the TCP_NOTSENT_LOWAT values set.
 */
function fakePacingRate(rate: number) {
  const { libc: recording, values } = recordingIntOption(libc, IPPROTO_TCP, TCP_NOTSENT_LOWAT);
  const kernel = { rate, looks: 0 };
  recording.getsockopt = (_fd, _level, _name, value, len) => {
    kernel.looks++;
    const v = new DataView(value.buffer, value.byteOffset);
    v.setUint32(104, kernel.rate % 4294967296, true);
    v.setUint32(108, Math.floor(kernel.rate / 4294967296), true);
    len[0] = 112;
    return 0;
  };
  return { libc: recording, values, kernel };
}

describe("unsent data as time at the connection's rate", () => {
  it("is 2 ms of the pacing rate, between 32 KiB and 4 MiB", () => {
    assert.equal(unsentLimitFor(50e6), 100_000); // 400 Mbit/s
    assert.equal(unsentLimitFor(2.5e6), UNSENT_MIN); // 20 Mbit/s: 5 kB would starve the writer
    assert.equal(unsentLimitFor(0), UNSENT_MIN);
    assert.equal(unsentLimitFor(12.5e9), UNSENT_MAX); // 100 Gbit/s
    assert.equal(unsentLimitFor(2 ** 64 - 1), UNSENT_MAX); // no rate set: the kernel's ~0
  });

  it("a real connection: starts at 128 KiB, then follows its pacing rate read from TCP_INFO", () => {
    const pair = loopbackTcpPair(libc);
    try {
      // Capped at 50 MB/s, the kernel's pacing rate is exactly that.
      assert.equal(setIntSocketOption(libc, pair.client, SOL_SOCKET, SO_MAX_PACING_RATE, 50_000_000), 0);
      const limit = new UnsentLimit(libc, pair.client);
      assert.equal(limit.limit, UNSENT_START);
      assert.equal(unsentLimit(libc, pair.client), UNSENT_START);
      pump(pair, UNSENT_UPDATE_BYTES + 64 * 1024, limit);
      assert.equal(limit.limit, 100_000);
      assert.equal(unsentLimit(libc, pair.client), 100_000);
      // Uncapped, loopback's pacing rate is tens of GB/s: the send buffer's size.
      assert.equal(setIntSocketOption(libc, pair.client, SOL_SOCKET, SO_MAX_PACING_RATE, -1), 0);
      pump(pair, UNSENT_UPDATE_BYTES + 64 * 1024, limit);
      assert.equal(unsentLimit(libc, pair.client), UNSENT_MAX);
    } finally {
      pair.close();
    }
  });

  it("looks at the rate once per MiB sent, and sets only changes of an eighth or more", () => {
    const pair = loopbackTcpPair(libc);
    try {
      const { libc: recording, values, kernel } = fakePacingRate(50_000_000);
      const limit = new UnsentLimit(recording, pair.client);
      limit.afterSend(UNSENT_UPDATE_BYTES - 1);
      assert.equal(kernel.looks, 0, "an idle or slow link makes no calls");
      limit.afterSend(1);
      assert.equal(kernel.looks, 1);
      kernel.rate = 53_000_000; // 106 kB: 6% more, not worth a syscall
      limit.afterSend(UNSENT_UPDATE_BYTES);
      kernel.rate = 5e9; // 10 MB: capped
      limit.afterSend(UNSENT_UPDATE_BYTES);
      assert.equal(kernel.looks, 3);
      assert.deepEqual(values, [UNSENT_START, 100_000, UNSENT_MAX]);
    } finally {
      pair.close();
    }
  });

  it("uses the highest rate of the looks in the last 250 ms, at most 8 (BBR's pacing rate swings as it probes)", () => {
    const pair = loopbackTcpPair(libc);
    try {
      const { libc: recording, values, kernel } = fakePacingRate(0);
      let now = 0;
      const limit = new UnsentLimit(recording, pair.client, () => now);
      const look = (r: number, ms = 1) => {
        now += ms;
        kernel.rate = r;
        limit.afterSend(UNSENT_UPDATE_BYTES);
      };
      look(100_000_000);
      assert.equal(limit.rate, 100_000_000);
      look(20_000_000); // a dip: the rate and the limit stay
      assert.equal(limit.rate, 100_000_000);
      for (let i = 0; i < RATE_LOOKS - 2; i++) look(25_000_000);
      assert.equal(limit.rate, 100_000_000, "the high look is still among the last 8");
      look(25_000_000);
      assert.equal(limit.rate, 25_000_000, "now it has aged out");
      // A slow link: looks far apart stand alone, so a start's high rate is forgotten at once.
      look(100_000_000, RATE_WINDOW_MS + 1);
      look(2_500_000, RATE_WINDOW_MS + 1);
      assert.equal(limit.rate, 2_500_000);
      assert.deepEqual(values, [UNSENT_START, 200_000, 50_000, 200_000, UNSENT_MIN]);
    } finally {
      pair.close();
    }
  });

  it("a kernel that refuses TCP_NOTSENT_LOWAT: asked once, never again", () => {
    const pair = loopbackTcpPair(libc);
    try {
      const { libc: refusing, values } = recordingIntOption(libc, IPPROTO_TCP, TCP_NOTSENT_LOWAT, -Errno.EINVAL);
      let looks = 0;
      refusing.getsockopt = () => (looks++, 0);
      const limit = new UnsentLimit(refusing, pair.client);
      limit.afterSend(4 * UNSENT_UPDATE_BYTES);
      assert.equal(limit.limit, 0);
      assert.equal(looks, 0);
      assert.deepEqual(values, [UNSENT_START]);
    } finally {
      pair.close();
    }
  });
});
