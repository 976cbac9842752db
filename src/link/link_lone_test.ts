/**
 * The link's idle path: a wake-up of the device alone or of the socket alone
 * moves its one packet without the batch machinery. It must put the same
 * frames on the wire and the same packets on the device as the batch path,
 * queue behind frames already waiting, hand everything that is not one
 * packet to the batch path, and drain only while draining finds more.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { memoryLogger } from "../log.ts";
import { CONTROL_MASK, ECHO_REP, ECHO_REQ, HEADER_SIZE, readHeader } from "../protocol/frame.ts";
import { MemoryBurstDevice } from "../../test/fakes/memory_burst_device.ts";
import { MemoryDevice } from "../../test/fakes/memory_device.ts";
import { memoryTransportPair } from "../../test/fakes/memory_transport.ts";
import { DrainPolicy, Link, type LinkOptions } from "./link.ts";
import { Pipeline, type FrameStage } from "./pipeline.ts";
import { trailerStage } from "../../test/fakes/stages.ts";
import { Shaper } from "./shaper.ts";
import { loadLibc } from "../../ffi/index.ts";
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM } from "../../ffi/libc.ts";
import { TcpFrameTransport } from "../transport/tcp.ts";
import { UdpFrameTransport } from "../transport/udp.ts";
import { dataFrame } from "../../test/fakes/frames.ts";
import { concat } from "../../test/fakes/packets.ts";

function packet(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (seed * 31 + i * 7) & 0xff;
  return p;
}

/** Link a: a burst device with the idle path; link b: a plain device, the peer. */
function setup(stages: FrameStage[] = [], options: Partial<LinkOptions> = {}) {
  const [ta, tb] = memoryTransportPair("udp");
  const burst = new MemoryBurstDevice("tunA");
  const plain = new MemoryDevice("tunB");
  const a = new Link(burst, ta, new Pipeline(stages), { keepalive: null, initialEcho: false, dropDummyPackets: true, ...options }, memoryLogger().log);
  const b = new Link(plain, tb, new Pipeline(stages), { keepalive: null, initialEcho: false }, memoryLogger().log);
  return { burst, plain, a, b, ta, tb };
}

describe("Link idle path, device side", () => {
  it("is offered only when the device and the transport have it, and not under a shaper", () => {
    assert.equal(setup().a.canSendLone, true);
    assert.equal(setup().a.canReceiveLone, true);
    assert.equal(setup().b.canSendLone, false, "a plain device has no idle path");
    assert.equal(setup([], { shaper: new Shaper(1000) }).a.canSendLone, false);
  });

  for (const stages of [[], [trailerStage(5)]]) {
    const label = stages.length ? "through a stage" : "without stages";
    it(`frames a lone packet in place and sends it at once, the same bytes as the batch path (${label})`, () => {
      const lone = setup(stages);
      const batch = setup(stages);
      const p = packet(84, 1);
      lone.burst.bursts.push([p]);
      batch.burst.bursts.push([p]);
      lone.a.sendLonePacket();
      batch.a.pumpDevice();
      assert.equal(lone.ta.loneSends, 1);
      assert.equal(batch.ta.loneSends, 0);
      assert.deepEqual(lone.ta.sent, batch.ta.sent, "same frame on the wire");
      assert.equal(readHeader(lone.ta.sent[0]!, 0), 84 + (stages.length ? 5 : 0));
      for (const key of ["packetsOut", "bytesOut", "wireOut"] as const) assert.equal(lone.a.stats[key], batch.a.stats[key], key);
      lone.b.pumpTransport();
      assert.deepEqual(lone.plain.written, [p], "the peer's device gets the packet");
    });
  }

  it("sends a burst the batch way", () => {
    const { burst, a, ta, b, plain } = setup();
    const ps = [packet(1400, 1), packet(1400, 2), packet(300, 3)];
    burst.bursts.push(ps);
    a.sendLonePacket();
    assert.equal(ta.loneSends, 0);
    assert.equal(burst.loneReads, 0);
    b.pumpTransport();
    assert.deepEqual(plain.written, ps);
  });

  it("queues behind frames already waiting instead of jumping ahead", () => {
    const { burst, a, ta, b, plain } = setup();
    ta.backlog = 10; // the fake's "frames wait" signal: sendLone must refuse
    const p = packet(60, 4);
    burst.bursts.push([p]);
    a.sendLonePacket();
    assert.equal(ta.loneSends, 0);
    assert.equal(a.stats.packetsOut, 1);
    b.pumpTransport();
    assert.deepEqual(plain.written, [p], "sent through the queue");
  });

  it("drains what else is waiting while drains find more, and goes back to poll() at rest", () => {
    const { burst, a, b, plain } = setup();
    const ps = [packet(100, 1), packet(100, 2), packet(100, 3)];
    for (const p of ps) burst.bursts.push([p]);
    a.sendLonePacket();
    assert.equal(burst.bursts.length, 0, "all three read in one wake-up");
    b.pumpTransport();
    assert.deepEqual(plain.written, ps);
    // The last drain found the device empty... (one more wake-up that drains and finds nothing)
    burst.bursts.push([packet(100, 4)]);
    a.sendLonePacket();
    // ...so at rest the next wake-ups send their packet and leave the rest to poll().
    burst.bursts.push([packet(100, 5)], [packet(100, 6)]);
    a.sendLonePacket();
    assert.equal(burst.bursts.length, 1, "no drain at rest: the second packet waits for the next wake-up");
    a.sendLonePacket();
    assert.equal(burst.bursts.length, 0);
    b.pumpTransport();
    assert.deepEqual(plain.written.slice(3).map((p) => p[0]), [4, 5, 6].map((s) => packet(100, s)[0]), "in order");
  });
});

describe("Link idle path, network side", () => {
  for (const stages of [[], [trailerStage(3)]]) {
    const label = stages.length ? "through a stage" : "without stages";
    it(`writes a lone frame to the device in place and reads the answer at once (${label})`, () => {
      const { burst, a, ta, b, plain, tb } = setup(stages);
      const request = packet(84, 7);
      const answer = packet(84, 8);
      plain.inject(request);
      b.pumpDevice();
      burst.bursts.push([answer]); // what the kernel answers inside the write
      a.receiveLoneFrame();
      assert.equal(ta.loneReceives, 1);
      assert.equal(burst.loneWrites, 1);
      assert.deepEqual(burst.batches, [[request]], "the packet, intact, in a write of its own");
      assert.equal(a.stats.packetsIn, 1);
      assert.equal(a.stats.bytesIn, 84);
      assert.equal(ta.loneSends, 1, "the answer went out the idle way too");
      assert.equal(burst.bursts.length, 0);
      b.pumpTransport();
      assert.deepEqual(plain.written, [answer]);
      assert.equal(tb.loneSends, 0);
    });
  }

  it("hands control frames to the batch path (an echo request is answered)", () => {
    const { a, ta, tb } = setup();
    tb.sendControl(ECHO_REQ);
    a.receiveLoneFrame();
    assert.equal(ta.loneReceives, 0);
    const controls = ta.sent.map((f) => readHeader(f, 0) & CONTROL_MASK);
    assert.deepEqual(controls, [ECHO_REP]);
  });

  it("drops a peer's 1-byte resync dummy on a packet device and counts a frame its stage refuses", () => {
    const { burst, a, tb } = setup([trailerStage(2)]);
    const dummy = new Uint8Array(HEADER_SIZE + 3);
    dummy[1] = 3;
    dummy.set([0x55, 0xa0, 0xa1], HEADER_SIZE);
    tb.sendRaw(dummy);
    a.receiveLoneFrame();
    assert.equal(a.stats.dummyFrames, 1);
    const broken = new Uint8Array(HEADER_SIZE + 10);
    broken[1] = 10;
    tb.sendRaw(broken); // its trailer is wrong: the stage drops it
    a.receiveLoneFrame();
    assert.equal(a.stats.decodeDrops, 1);
    assert.equal(burst.loneWrites, 0);
    assert.equal(a.stats.packetsIn, 0);
  });

  it("counts a packet the device refuses, and keeps the link", () => {
    const { burst, a, b, plain } = setup();
    burst.writeLone = () => -5; // EIO: the interface is not up yet
    plain.inject(packet(60, 9));
    b.pumpDevice();
    a.receiveLoneFrame();
    assert.equal(a.end, null);
    assert.equal(a.stats.packetsIn, 0);
    assert.equal(a.stats.deviceDrops.get("EIO"), 1);
  });
});

const libc = await loadLibc();

describe("Link idle path over real sockets (socket pairs, no root)", () => {
  /** Link a's transport over one end of a socket pair; the other end is the peer's raw socket. */
  function overSocket(kind: "tcp" | "udp") {
    const fds = new Int32Array(2);
    const type = (kind === "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    assert.equal(libc.socketpair(AF_UNIX, type, 0, fds), 0);
    const transport = kind === "tcp" ? new TcpFrameTransport(libc, fds[0]!) : new UdpFrameTransport(libc, fds[0]!, { gso: false, gro: false });
    const burst = new MemoryBurstDevice("tunA");
    const a = new Link(burst, transport, new Pipeline([]), { keepalive: null, initialEcho: false, dropDummyPackets: true }, memoryLogger().log);
    return { a, burst, peer: fds[1]!, close: () => (transport.close(), libc.close(fds[1]!)) };
  }

  for (const kind of ["tcp", "udp"] as const) {
    it(`${kind}: a frame read alone reaches the device in a write of its own, intact, and is counted`, () => {
      const { a, burst, peer, close } = overSocket(kind);
      assert.equal(a.canReceiveLone, true);
      const p = packet(84, 3);
      const frame = dataFrame(p);
      assert.equal(libc.send(peer, frame, 0, frame.length, 0), frame.length);
      a.receiveLoneFrame();
      assert.equal(burst.loneWrites, 1);
      assert.deepEqual(burst.batches, [[p]]);
      assert.equal(a.stats.packetsIn, 1);
      assert.equal(a.stats.bytesIn, 84);
      close();
    });
  }

  it("tcp: frames that arrive together take the batch way, every one delivered", () => {
    const { a, burst, peer, close } = overSocket("tcp");
    const ps = [packet(100, 1), packet(1400, 2), packet(60, 3)];
    const wire = concat(ps.map(dataFrame));
    assert.equal(libc.send(peer, wire, 0, wire.length, 0), wire.length);
    a.receiveLoneFrame();
    assert.equal(burst.loneWrites, 0);
    assert.deepEqual(burst.batches.flat(), ps);
    assert.equal(a.stats.packetsIn, 3);
    close();
  });
});

describe("DrainPolicy", () => {
  it("drains at first, and while drains find more", () => {
    const d = new DrainPolicy();
    assert.equal(d.due(), true);
    d.found(true);
    assert.equal(d.due(), true);
  });

  it("after a drain that found nothing, drains again only every 8th time", () => {
    const d = new DrainPolicy();
    d.found(false);
    const pattern = Array.from({ length: 16 }, () => d.due());
    assert.deepEqual(pattern, [false, false, false, false, false, false, false, true, false, false, false, false, false, false, false, true]);
    d.found(true);
    assert.equal(d.due(), true);
  });
});
