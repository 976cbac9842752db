/**
 * Read holds under bulk load (ReadHold in tcp.ts). Reads of 64 KiB or more
 * that keep coming for HOLD_AFTER_MS raise the socket's low-water mark; a
 * short burst, small reads or a pause never do; a release goes back to a
 * wake-up for every byte, and a hold that had lasted resumes at once; a
 * kernel that refuses the option leaves the socket as it was. The last test
 * checks, on a real loopback TCP connection, the kernel behaviour the driver
 * relies on: poll() stays quiet below the mark and speaks again on release.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { Errno } from "../../ffi/errno.ts";
import { POLLIN } from "../../ffi/libc.ts";
import {
  HOLD_AFTER_MS,
  HOLD_AFTER_READ,
  HOLD_AGAIN_WITHIN_MS,
  HOLD_LOW_WATER,
  HOLD_STREAK_GAP_MS,
  ReadHold,
  TcpFrameTransport,
} from "./tcp.ts";
import { loopbackTcpPair, recordingLowWater } from "../../test/fakes/tcp_sockets.ts";
import { recordingSink } from "../../test/fakes/frames.ts";

const libc = await loadLibc();

/** A ReadHold on a fake socket with a clock the test sets. */
function hold(options: { result?: number; enabled?: boolean } = {}) {
  const { libc: fake, marks } = recordingLowWater(libc, options.result ?? 0);
  const clock = { t: 1000 };
  const h = new ReadHold(fake, 99, options.enabled ?? true, () => clock.t);
  /** Large reads every `step` ms from now for `forMs` ms. */
  const largeReads = (forMs: number, step = 1) => {
    const end = clock.t + forMs;
    for (; clock.t <= end; clock.t += step) h.afterRead(HOLD_AFTER_READ);
    clock.t -= step;
  };
  return { h, marks, clock, largeReads };
}

describe("ReadHold", () => {
  it("holds only after large reads kept coming for HOLD_AFTER_MS", () => {
    const { h, marks, largeReads } = hold();
    largeReads(HOLD_AFTER_MS - 1);
    assert.equal(h.held, false, "a burst shorter than HOLD_AFTER_MS is not held");
    assert.deepEqual(marks, []);
    largeReads(1);
    assert.equal(h.held, true);
    assert.deepEqual(marks, [HOLD_LOW_WATER]);
  });

  it("is never held by small reads, however many", () => {
    const { h, marks, clock } = hold();
    for (let i = 0; i < 1000; i++, clock.t += 0.1) h.afterRead(HOLD_AFTER_READ - 1);
    assert.equal(h.held, false);
    assert.deepEqual(marks, []);
  });

  it("starts the count again after a pause longer than HOLD_STREAK_GAP_MS", () => {
    const { h, clock, largeReads } = hold();
    largeReads(HOLD_AFTER_MS - 2);
    clock.t += HOLD_STREAK_GAP_MS + 0.5;
    largeReads(HOLD_AFTER_MS - 2);
    assert.equal(h.held, false, "two runs shorter than HOLD_AFTER_MS, with a pause between");
    largeReads(2);
    assert.equal(h.held, true);
  });

  it("a release goes back to 1; after a hold that lasted, the next large read soon holds at once", () => {
    const { h, marks, clock, largeReads } = hold();
    largeReads(HOLD_AFTER_MS);
    clock.t += HOLD_AFTER_MS; // held this long
    h.release();
    assert.equal(h.held, false);
    assert.deepEqual(marks, [HOLD_LOW_WATER, 1]);
    clock.t += HOLD_AGAIN_WITHIN_MS / 2;
    h.afterRead(HOLD_AFTER_READ);
    assert.equal(h.held, true, "the same bulk flow after a pause");
    clock.t += HOLD_AFTER_MS;
    h.release();
    clock.t += HOLD_AGAIN_WITHIN_MS + 1;
    h.afterRead(HOLD_AFTER_READ);
    assert.equal(h.held, false, "too long after: counts again");
  });

  it("after a hold that did not last, a large read counts from the start again", () => {
    const { h, clock, largeReads } = hold();
    largeReads(HOLD_AFTER_MS);
    clock.t += 1;
    h.release(); // held 1 ms: the flow was not steady
    clock.t += 1;
    h.afterRead(HOLD_AFTER_READ);
    assert.equal(h.held, false);
  });

  it("a release while not held changes nothing", () => {
    const { h, marks } = hold();
    h.release();
    assert.deepEqual(marks, []);
  });

  it("a kernel that refuses SO_RCVLOWAT: never held, asked once, no error", () => {
    const { h, marks, largeReads } = hold({ result: -Errno.EINVAL });
    largeReads(HOLD_AFTER_MS * 3);
    assert.equal(h.held, false);
    assert.deepEqual(marks, [HOLD_LOW_WATER], "not asked again after the refusal");
  });

  it("switched off (VTUNTS_DISABLE=read-hold): never held", () => {
    const { h, marks, largeReads } = hold({ enabled: false });
    largeReads(HOLD_AFTER_MS * 3);
    assert.equal(h.held, false);
    assert.deepEqual(marks, []);
  });
});

describe("TcpFrameTransport read hold on a loopback TCP connection", () => {
  it("holds after steady large reads; poll() is quiet below the mark and speaks after releaseReads()", () => {
    const { client, server } = loopbackTcpPair(libc);
    const clock = { t: 0 };
    const t = new TcpFrameTransport(libc, server, { now: () => clock.t });
    const { sink, seen } = recordingSink();
    const chunk = new Uint8Array(HOLD_AFTER_READ + 1000); // zero bytes: empty data frames, which the parser skips
    const pollIn = (timeoutMs: number) => {
      const fds = new Uint8Array(8);
      new DataView(fds.buffer).setInt32(0, server, true);
      new DataView(fds.buffer).setInt16(4, POLLIN, true);
      return libc.poll(fds, 1, timeoutMs);
    };
    const sendAll = (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length;) {
        const r = libc.send(client, bytes, at, bytes.length - at, 0);
        if (r > 0) at += r;
        else assert.equal(pollIn(0) >= 0, true);
      }
    };
    try {
      for (let ms = 0; ms <= HOLD_AFTER_MS && !t.readsHeld; ms += 1) {
        clock.t = ms;
        sendAll(chunk); // on loopback it is all in the receive queue when send() returns
        assert.equal(pollIn(1000), 1, "data is reported");
        t.receive(sink);
      }
      assert.equal(t.readsHeld, true, "steady reads of 64 KiB or more hold");
      sendAll(new Uint8Array(1000));
      assert.equal(pollIn(50), 0, "below the mark poll() stays quiet");
      t.releaseReads();
      assert.equal(t.readsHeld, false);
      assert.equal(pollIn(50), 1, "released, the waiting bytes are reported");
      assert.deepEqual(seen, []);
    } finally {
      t.close(); // and with it `server`
      libc.close(client);
    }
  });
});
