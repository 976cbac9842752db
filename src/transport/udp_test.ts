/**
 * The UDP transport on real loopback sockets: queued frames leave as one
 * datagram each whether or not they went out in GSO runs (a vtund peer must
 * see ordinary datagrams), a GRO receiver splits coalesced datagrams back
 * into the same frames, a kernel that refuses a GSO size makes the transport
 * fall back to single datagrams, and the switched-off paths still work.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../ffi/errno.ts";
import { createLibc, type Libc } from "../../ffi/index.ts";
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK } from "../../ffi/libc.ts";
import { HEADER_SIZE, LONE_HEADROOM } from "../protocol/frame.ts";
import { encodeSockaddr } from "./address.ts";
import { localEndpoint } from "./socket.ts";
import type { FrameSink } from "./transport.ts";
import { UdpFrameTransport, type UdpOptions } from "./udp.ts";
import { recordingSink } from "../../test/fakes/frames.ts";

let libc: Libc;
const open: number[] = [];

/** Two UDP sockets on 127.0.0.1, connected to each other. */
function socketPair(): [number, number] {
  const fds = [0, 1].map(() => {
    const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert.ok(fd >= 0);
    const any = encodeSockaddr({ family: 4, address: "127.0.0.1", port: 0 });
    assert.equal(libc.bind(fd, any, any.length), 0);
    open.push(fd);
    return fd;
  }) as [number, number];
  for (const [a, b] of [[fds[0], fds[1]], [fds[1], fds[0]]] as const) {
    const peer = encodeSockaddr(localEndpoint(libc, b));
    assert.equal(libc.connect(a, peer, peer.length), 0);
  }
  return fds;
}

/** A libc that counts sends and can refuse GSO sends above a segment size, as a kernel with a small path MTU does. */
function instrumented(refuseGsoAbove = Infinity): { libc: Libc; sends: () => number } {
  let sends = 0;
  let segment = 0;
  const wrapped = Object.create(libc) as Libc & Record<string, unknown>;
  wrapped.setsockopt = (fd, level, name, value, len) => {
    if (level === 17 && name === 103) segment = new DataView(value.buffer, value.byteOffset).getInt32(0, true);
    return libc.setsockopt(fd, level, name, value, len);
  };
  wrapped.send = (fd, buf, off, len, flags) => {
    sends++;
    if (segment > refuseGsoAbove && len > segment) return -Errno.EMSGSIZE;
    return libc.send(fd, buf, off, len, flags);
  };
  return { libc: wrapped, sends: () => sends };
}

/** Body lengths to send; body k is filled with k & 0xff. */
const SIZES = [...new Array<number>(30).fill(1400), 333, ...new Array<number>(5).fill(60), 2000, 1];

function queue(t: UdpFrameTransport, sizes: number[]): void {
  sizes.forEach((n, k) => {
    const at = t.reserveData(n);
    assert.ok(at >= 0);
    t.sendBuffer.fill(k & 0xff, at, at + n);
    assert.ok(t.commitData(n));
  });
  assert.ok(t.sendControl(0x2000));
}

/** Every datagram waiting on `fd`, as received. */
function drainRaw(fd: number): Uint8Array[] {
  const buf = new Uint8Array(70_000);
  const out: Uint8Array[] = [];
  for (;;) {
    const r = libc.recv(fd, buf, 0, buf.length, 0);
    if (r === -Errno.EAGAIN) return out;
    assert.ok(r >= 0, `recv: ${r}`);
    out.push(buf.slice(0, r));
  }
}

function checkDatagrams(datagrams: Uint8Array[], sizes: number[]): void {
  assert.equal(datagrams.length, sizes.length + 1, "one datagram per frame");
  sizes.forEach((n, k) => {
    const d = datagrams[k]!;
    assert.equal(d.length, HEADER_SIZE + n, `datagram ${k}`);
    assert.equal((d[0]! << 8) | d[1]!, n);
    assert.ok(d.subarray(2).every((b) => b === (k & 0xff)), `datagram ${k} body`);
  });
  assert.deepEqual([...datagrams.at(-1)!], [0x20, 0x00]);
}

/** Receives with `t` until `count` frames arrived; returns them as "length#fill" strings. */
function receiveFrames(t: UdpFrameTransport, count: number): { frames: string[]; bad: string[] } {
  const frames: string[] = [];
  const bad: string[] = [];
  const sink: FrameSink = {
    onData: (b, off, len) => frames.push(`${len}#${b[off]}`),
    onControl: (c) => frames.push(`control ${c.toString(16)}`),
    onBadFrame: (reason) => bad.push(reason),
  };
  for (let i = 0; i < 100 && frames.length + bad.length < count; i++) t.receive(sink);
  return { frames, bad };
}

const expected = (sizes: number[]) => [...sizes.map((n, k) => `${n}#${k & 0xff}`), "control 2000"];

describe("UdpFrameTransport on loopback", () => {
  before(async () => {
    libc = await createLibc();
  });
  after(() => {
    for (const fd of open) libc.close(fd);
  });

  it("GSO runs reach a plain socket as one datagram per frame, in order", () => {
    const [a, b] = socketPair();
    const counted = instrumented();
    const t = new UdpFrameTransport(counted.libc, a, { gro: false });
    assert.ok(t.gsoAvailable, "this kernel has UDP_SEGMENT");
    assert.equal(t.maxFrame, 65535 - 28, "loopback's MTU minus IPv4 and UDP headers");
    queue(t, SIZES);
    assert.ok(t.backlog > 0, "queued until flushed");
    assert.ok(t.flush());
    assert.equal(t.backlog, 0);
    // 30×1400 + 333 | 5×60 | 2000 + 1 | echo: four sends for 39 datagrams.
    assert.equal(counted.sends(), 4);
    checkDatagrams(drainRaw(b), SIZES);
  });

  it("a GRO receiver splits what arrives coalesced into the same frames", () => {
    const [a, b] = socketPair();
    const counted = instrumented();
    const sender = new UdpFrameTransport(libc, a);
    const receiver = new UdpFrameTransport(counted.libc, b);
    assert.ok(receiver.coalesced, "this kernel has UDP_GRO");
    queue(sender, SIZES);
    assert.ok(sender.flush());
    const { frames, bad } = receiveFrames(receiver, SIZES.length + 1);
    assert.deepEqual(bad, []);
    assert.deepEqual(frames, expected(SIZES));
  });

  it("falls back to single datagrams when the kernel refuses a GSO size", () => {
    const [a, b] = socketPair();
    const counted = instrumented(1000);
    const t = new UdpFrameTransport(counted.libc, a, { gro: false });
    queue(t, SIZES);
    assert.ok(t.flush());
    checkDatagrams(drainRaw(b), SIZES);
    // One refused try, then the 31 frames singly; the 60-byte run and the 1-byte frame + echo
    // still go as GSO sends (small enough), the 2000-byte frame alone.
    assert.equal(counted.sends(), 1 + 31 + 1 + 1 + 1);
  });

  it("with GSO and GRO switched off: one send and one receive per frame", () => {
    const [a, b] = socketPair();
    const sent = instrumented();
    const received = instrumented();
    const sender = new UdpFrameTransport(sent.libc, a, { gso: false, gro: false });
    const receiver = new UdpFrameTransport(received.libc, b, { gso: false, gro: false } satisfies UdpOptions);
    assert.ok(!sender.gsoAvailable && !receiver.coalesced);
    queue(sender, SIZES);
    assert.ok(sender.flush());
    assert.equal(sent.sends(), SIZES.length + 1);
    const { frames, bad } = receiveFrames(receiver, SIZES.length + 1);
    assert.deepEqual(bad, []);
    assert.deepEqual(frames, expected(SIZES));
  });

  it("idle path: a lone frame goes out framed in place as one datagram, after a GSO run too", () => {
    const [a, b] = socketPair();
    const t = new UdpFrameTransport(libc, a, { gro: false });
    // A GSO run first leaves UDP_SEGMENT set on the socket; a lone frame longer than it must still go whole.
    queue(t, [1400, 1400, 1400]);
    assert.ok(t.flush());
    drainRaw(b);
    for (const n of [84, 1400, 2000]) {
      const buf = new Uint8Array(LONE_HEADROOM + n);
      buf.fill(0x77, LONE_HEADROOM);
      assert.ok(t.sendLone(buf, LONE_HEADROOM, n));
      const got = drainRaw(b);
      assert.equal(got.length, 1, `one datagram for ${n}`);
      assert.equal(got[0]!.length, HEADER_SIZE + n);
      assert.equal((got[0]![0]! << 8) | got[0]![1]!, n);
      assert.ok(got[0]!.subarray(HEADER_SIZE).every((x) => x === 0x77));
    }
  });

  it("idle path: a lone frame waits its turn behind queued frames (nothing is sent)", () => {
    const [a, b] = socketPair();
    const t = new UdpFrameTransport(libc, a, { gro: false });
    queue(t, [100]);
    const buf = new Uint8Array(LONE_HEADROOM + 50);
    assert.equal(t.sendLone(buf, LONE_HEADROOM, 50), false);
    assert.deepEqual(drainRaw(b), []);
    assert.ok(t.flush());
    assert.equal(drainRaw(b).length, 2, "the queued frame and the echo request");
  });

  it("idle path: a lone data frame lands at loneInput[LONE_HEADROOM]; control frames and coalesced datagrams go to the sink", () => {
    const [a, b] = socketPair();
    const sender = new UdpFrameTransport(libc, a);
    const receiver = new UdpFrameTransport(libc, b);
    const { sink, seen } = recordingSink();
    assert.equal(receiver.receiveLone(sink), 0, "nothing waiting");
    const lone = new Uint8Array(LONE_HEADROOM + 300).fill(9, LONE_HEADROOM);
    assert.ok(sender.sendLone(lone, LONE_HEADROOM, 300));
    assert.equal(receiver.receiveLone(sink), 300);
    assert.ok(receiver.loneInput.subarray(LONE_HEADROOM, LONE_HEADROOM + 300).every((x) => x === 9));
    assert.equal(seen.length, 0);
    assert.ok(sender.sendControl(0x2000));
    assert.ok(sender.flush());
    assert.equal(receiver.receiveLone(sink), -1);
    assert.deepEqual(seen, ["control 2000"]);
    // A GSO run arrives coalesced (UDP_GRO; on loopback it does): not one frame, so its frames go
    // to the sink. Were it not coalesced, each datagram would be a lone frame: the same frames.
    seen.length = 0;
    queue(sender, [1000, 1000, 1000]);
    assert.ok(sender.flush());
    for (let i = 0; i < 10 && seen.length < 4; i++) {
      const r = receiver.receiveLone(sink);
      if (r > 0) seen.push(`${r}#${receiver.loneInput[LONE_HEADROOM]} (lone)`);
    }
    assert.deepEqual(seen.map((s) => s.replace(" (lone)", "")), ["1000#0", "1000#1", "1000#2", "control 2000"]);
  });
});
