/**
 * The TCP transport's idle path on a real socket pair (no root needed): a
 * lone frame goes out framed in place; it waits its turn behind queued
 * frames; when the socket takes only part of it, the rest is queued and the
 * stream stays whole. On receive, a read that is exactly one data frame is
 * handed over in place, and anything else (several frames, part of one,
 * control frames, an oversized frame, the end of the stream) takes the
 * batch way with the stream intact.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { AF_UNIX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from "../../ffi/libc.ts";
import { ECHO_REQ, HEADER_SIZE, LONE_HEADROOM } from "../protocol/frame.ts";
import { TcpFrameTransport } from "./tcp.ts";
import { dataFrame, recordingSink } from "../../test/fakes/frames.ts";
import { concat } from "../../test/fakes/packets.ts";

const libc = await loadLibc();

function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  assert.equal(libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return [fds[0]!, fds[1]!];
}

/** Everything waiting on `fd`. */
function drain(fd: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = libc.recv(fd, buf, 0, buf.length, 0);
    if (r <= 0) return concat(chunks);
    chunks.push(buf.slice(0, r));
  }
}

function lone(n: number, fill: number): Uint8Array {
  return new Uint8Array(LONE_HEADROOM + n).fill(fill, LONE_HEADROOM);
}

describe("TcpFrameTransport idle path", () => {
  it("sends a lone frame framed in place", () => {
    const [a, b] = socketPair();
    const t = new TcpFrameTransport(libc, a);
    assert.ok(t.sendLone(lone(84, 3), LONE_HEADROOM, 84));
    const got = drain(b);
    assert.equal(got.length, HEADER_SIZE + 84);
    assert.equal((got[0]! << 8) | got[1]!, 84);
    assert.ok(got.subarray(HEADER_SIZE).every((x) => x === 3));
    t.close();
    libc.close(b);
  });

  it("waits its turn behind queued frames: nothing is sent", () => {
    const [a, b] = socketPair();
    const t = new TcpFrameTransport(libc, a);
    const at = t.reserveData(10);
    t.sendBuffer.fill(1, at, at + 10);
    t.commitData(10);
    assert.equal(t.sendLone(lone(20, 2), LONE_HEADROOM, 20), false);
    assert.equal(drain(b).length, 0);
    assert.ok(t.flush());
    assert.equal(drain(b).length, HEADER_SIZE + 10);
    t.close();
    libc.close(b);
  });

  it("queues what the socket did not take of it, and the stream stays whole", () => {
    const [a, b] = socketPair();
    // A socket that takes only 700 bytes of the next send, as a nearly full one does.
    let limit = 700;
    const partial = Object.create(libc) as typeof libc;
    partial.send = (fd, buf, off, len, flags) => {
      const n = Math.min(len, limit);
      limit = Infinity;
      return libc.send(fd, buf, off, n, flags);
    };
    const t = new TcpFrameTransport(partial, a);
    assert.ok(t.sendLone(lone(2000, 7), LONE_HEADROOM, 2000), "taken: part sent, the rest queued");
    assert.equal(t.backlog, HEADER_SIZE + 2000 - 700);
    assert.equal(t.sendLone(lone(10, 8), LONE_HEADROOM, 10), false, "the next one waits behind the rest");
    const at = t.reserveData(10);
    t.sendBuffer.fill(8, at, at + 10);
    t.commitData(10);
    assert.ok(t.flush());
    const got = drain(b);
    assert.equal(got.length, HEADER_SIZE + 2000 + HEADER_SIZE + 10);
    assert.equal((got[0]! << 8) | got[1]!, 2000);
    assert.ok(got.subarray(HEADER_SIZE, HEADER_SIZE + 2000).every((x) => x === 7));
    assert.equal((got[2002]! << 8) | got[2003]!, 10);
    assert.ok(got.subarray(2004).every((x) => x === 8));
    t.close();
    libc.close(b);
  });
});

/** A data frame on the wire whose body is `n` bytes of `fill`. */
function wireFrame(n: number, fill: number): Uint8Array {
  return dataFrame(new Uint8Array(n).fill(fill));
}

/** A receiving transport on one end of a socket pair, `peer` the other end, and a sink that records what it is handed. */
function receiving() {
  const [peer, b] = socketPair();
  const t = new TcpFrameTransport(libc, b);
  const { sink, seen } = recordingSink();
  const send = (bytes: Uint8Array) => assert.equal(libc.send(peer, bytes, 0, bytes.length, 0), bytes.length);
  const close = () => {
    t.close();
    libc.close(peer);
  };
  return { peer, t, sink, seen, send, close };
}

describe("TcpFrameTransport idle path, receiving", () => {
  it("hands over a read that is one data frame at loneInput[LONE_HEADROOM]; nothing waiting is 0", () => {
    const { t, sink, seen, send, close } = receiving();
    assert.equal(t.receiveLone(sink), 0, "nothing waiting");
    send(wireFrame(84, 5));
    assert.equal(t.receiveLone(sink), 84);
    assert.ok(t.loneInput.subarray(LONE_HEADROOM, LONE_HEADROOM + 84).every((x) => x === 5));
    assert.deepEqual(seen, []);
    // Consumed: the next one lands in the same place.
    send(wireFrame(1400, 6));
    assert.equal(t.receiveLone(sink), 1400);
    assert.ok(t.loneInput.subarray(LONE_HEADROOM, LONE_HEADROOM + 1400).every((x) => x === 6));
    close();
  });

  it("several frames in one read go to the sink, in order", () => {
    const { t, sink, seen, send, close } = receiving();
    send(concat([wireFrame(100, 1), new Uint8Array([ECHO_REQ >>> 8, 0]), wireFrame(200, 2)]));
    assert.equal(t.receiveLone(sink), -1);
    assert.deepEqual(seen, ["100#1", "control 2000", "200#2"]);
    close();
  });

  it("part of a frame stays buffered; the next lone receive leaves the stream to receive()", () => {
    const { t, sink, seen, send, close } = receiving();
    const f = wireFrame(1000, 3);
    send(f.subarray(0, 600));
    assert.equal(t.receiveLone(sink), -1);
    assert.deepEqual(seen, []);
    send(concat([f.subarray(600), wireFrame(50, 4)]));
    assert.equal(t.receiveLone(sink), -1, "mid-frame: does not read");
    assert.deepEqual(seen, []);
    assert.equal(t.receive(sink), "ok");
    assert.deepEqual(seen, ["1000#3", "50#4"]);
    // Back to an empty buffer: the idle path again.
    send(wireFrame(70, 8));
    assert.equal(t.receiveLone(sink), 70);
    close();
  });

  it("a frame's header alone, or a frame longer than vtund accepts, takes the batch way", () => {
    const { t, sink, seen, send, close } = receiving();
    send(new Uint8Array([0, 40]));
    assert.equal(t.receiveLone(sink), -1, "a header without its body");
    send(new Uint8Array(40).fill(9));
    assert.equal(t.receive(sink), "ok");
    assert.deepEqual(seen, ["40#9"]);
    seen.length = 0;
    send(concat([wireFrame(3000, 1), wireFrame(10, 2)]));
    for (let i = 0; i < 10 && seen.length < 2; i++) if (t.receiveLone(sink) === -1) t.receive(sink);
    assert.equal(seen.length, 2);
    assert.match(seen[0]!, /^bad: frame of 3000 bytes/);
    assert.equal(seen[1], "10#2", "the stream stays in step after the oversized frame");
    close();
  });

  it("the end of the stream is -1, and receive() reports it", () => {
    const { peer, t, sink, seen } = receiving();
    libc.close(peer);
    assert.equal(t.receiveLone(sink), -1);
    assert.equal(t.receive(sink), "eof");
    assert.deepEqual(seen, []);
    t.close();
  });
});

describe("TcpFrameTransport.sendRate", () => {
  it("is the unsent cap's rate (0 before a look) with limitUnsent, and absent without it or with reportRate off", () => {
    const cases: Array<[{ limitUnsent?: boolean; reportRate?: boolean }, number | undefined]> = [
      [{ limitUnsent: true }, 0],
      [{ limitUnsent: true, reportRate: false }, undefined],
      [{}, undefined],
    ];
    for (const [options, expected] of cases) {
      const [a, b] = socketPair();
      const t = new TcpFrameTransport(libc, a, options);
      assert.equal(t.sendRate, expected, JSON.stringify(options));
      if (t.unsent) {
        t.unsent.rate = 12_345; // what a look at TCP_INFO would leave
        assert.equal(t.sendRate, options.reportRate === false ? undefined : 12_345);
      }
      t.close();
      libc.close(b);
    }
  });
});
