/**
 * The TCP transport's idle path on a real socket pair (no root needed): a
 * lone frame goes out framed in place; it waits its turn behind queued
 * frames; when the socket takes only part of it, the rest is queued and the
 * stream stays whole.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { AF_UNIX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from "../../ffi/libc.ts";
import { HEADER_SIZE, LONE_HEADROOM } from "../protocol/frame.ts";
import { TcpFrameTransport } from "./tcp.ts";
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
