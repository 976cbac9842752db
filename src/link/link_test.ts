/**
 * The link core, with an in-memory device and transport on each side: packets
 * cross both ways intact, control frames, keepalive timing (vtund's rules),
 * link endings, drops that must not end the link, and the pipeline hook.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../ffi/errno.ts";
import { memoryLogger } from "../log.ts";
import { CONN_CLOSE, ECHO_REP, ECHO_REQ, MAX_PACKET } from "../protocol/frame.ts";
import { MemoryDevice } from "../../test/fakes/memory_device.ts";
import { memoryTransportPair, type MemoryTransport } from "../../test/fakes/memory_transport.ts";
import { Link, LINK_QUEUE_MIN, linkQueueFor, type LinkOptions } from "./link.ts";
import { Pipeline, type FrameStage } from "./pipeline.ts";

interface Side {
  link: Link;
  device: MemoryDevice;
  transport: MemoryTransport;
  lines: string[];
}

function pair(options: Partial<LinkOptions> = {}, stages: FrameStage[] = []): [Side, Side] {
  const [ta, tb] = memoryTransportPair("tcp");
  const make = (t: MemoryTransport, name: string): Side => {
    const device = new MemoryDevice(name);
    const { log, lines } = memoryLogger();
    const link = new Link(device, t, new Pipeline(stages), { keepalive: null, initialEcho: true, ...options }, log);
    return { link, device, transport: t, lines };
  };
  return [make(ta, "tunA"), make(tb, "tunB")];
}

/** Lets both links handle everything pending, a few rounds. */
function settle(...sides: Side[]): void {
  for (let round = 0; round < 4; round++) {
    for (const s of sides) {
      s.link.pumpDevice();
      s.link.pumpTransport();
    }
  }
}

function packet(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (seed * 31 + i * 7) & 0xff;
  p[0] = 0x45; // looks like IPv4, for readability only
  return p;
}

const headerOf = (frame: Uint8Array) => (frame[0]! << 8) | frame[1]!;

describe("Link", () => {
  it("moves packets both ways, intact and in order", () => {
    const [a, b] = pair();
    a.link.start(0);
    b.link.start(0);
    const toB = [packet(92, 1), packet(1500, 2), packet(1, 3), packet(MAX_PACKET, 4)];
    const toA = [packet(60, 5), packet(1400, 6)];
    toB.forEach((p) => a.device.inject(p));
    toA.forEach((p) => b.device.inject(p));
    settle(a, b);
    assert.deepEqual(b.device.written, toB);
    assert.deepEqual(a.device.written, toA);
    assert.equal(a.link.stats.packetsOut, 4);
    assert.equal(a.link.stats.bytesOut, 92 + 1500 + 1 + MAX_PACKET);
    assert.equal(b.link.stats.packetsIn, 4);
    assert.equal(a.link.end, null);
    assert.equal(b.link.end, null);
  });

  it("sends an ECHO_REQ first and answers the peer's with ECHO_REP", () => {
    const [a, b] = pair();
    a.link.start(0);
    b.link.start(0);
    assert.deepEqual(a.transport.sent.map(headerOf), [ECHO_REQ]);
    settle(a, b);
    assert.deepEqual(a.transport.sent.map(headerOf), [ECHO_REQ, ECHO_REP]);
    assert.deepEqual(b.transport.sent.map(headerOf), [ECHO_REQ, ECHO_REP]);
  });

  it("skips the first ECHO_REQ when told to (NAT-hack side)", () => {
    const [a] = pair({ initialEcho: false });
    a.link.start(0);
    assert.equal(a.transport.sent.length, 0);
  });

  it("ends on CONN_CLOSE and does not answer it", () => {
    const [a, b] = pair();
    b.transport.sendControl(CONN_CLOSE);
    a.link.pumpTransport();
    assert.deepEqual(a.link.end, { kind: "closed-by-peer" });
    a.link.sayGoodbye();
    assert.equal(a.transport.sent.length, 0);
  });

  it("says goodbye with CONN_CLOSE when stopped", () => {
    const [a, b] = pair();
    a.link.stop("SIGTERM");
    assert.deepEqual(a.link.end, { kind: "stopped", why: "SIGTERM" });
    a.link.sayGoodbye();
    b.link.pumpTransport();
    assert.deepEqual(b.link.end, { kind: "closed-by-peer" });
  });

  it("ends with eof when the TCP peer closes, without a CONN_CLOSE", () => {
    const [a, b] = pair();
    b.transport.close();
    a.link.pumpTransport();
    assert.deepEqual(a.link.end, { kind: "eof" });
  });

  it("keepalive: times out after maxFail+2 silent intervals, with echoes from the second", () => {
    const [a] = pair({ keepalive: { intervalSec: 2, maxFail: 2 }, initialEcho: false });
    a.transport.cut = true; // the peer is gone
    a.link.start(0);
    assert.equal(a.link.msUntilTick(0), 2000);
    const echoesAt: number[] = [];
    for (let t = 0; t <= 20_000 && a.link.end === null; t += 500) {
      const before = a.transport.sent.length;
      a.link.tick(t);
      if (a.transport.sent.length > before) echoesAt.push(t);
      if (a.link.end) {
        assert.equal(t, 8000, "vtund gives up at (maxFail + 2) × interval");
      }
    }
    assert.deepEqual(a.link.end, { kind: "timeout" });
    assert.deepEqual(echoesAt, [4000, 6000]);
  });

  it("keepalive: a live peer's answers keep the link up", () => {
    const [a, b] = pair({ keepalive: { intervalSec: 1, maxFail: 1 } });
    a.link.start(0);
    b.link.start(0);
    for (let t = 0; t <= 30_000; t += 250) {
      a.link.tick(t);
      settle(a, b);
    }
    assert.equal(a.link.end, null);
    assert.ok(a.transport.sent.filter((f) => headerOf(f) === ECHO_REQ).length > 5, "idle periods send echoes");
  });

  it("keepalive off: no timer at all", () => {
    const [a] = pair({ keepalive: null });
    a.link.start(0);
    assert.equal(a.link.msUntilTick(0), -1);
    assert.equal(a.link.needsClock, false, "the driver need not read the clock");
    a.link.tick(10_000_000);
    assert.equal(a.link.end, null);
  });

  it("needs the clock for keepalive and for stat", () => {
    const [a] = pair({ keepalive: { intervalSec: 30, maxFail: 4 } });
    a.link.start(0);
    assert.equal(a.link.needsClock, true);
    const [s] = pair({ stat: { intervalMs: 1000, report() {} } });
    s.link.start(0);
    assert.equal(s.link.needsClock, true);
  });

  it("writes the first packet of a wake-up out before reading the device again", () => {
    const [a] = pair({ initialEcho: false });
    const events: string[] = [];
    const read = a.device.readPacket.bind(a.device);
    a.device.readPacket = (buf, offset, capacity) => {
      const n = read(buf, offset, capacity);
      events.push(n > 0 ? "read" : "empty");
      return n;
    };
    a.transport.flush = () => {
      events.push("flush");
      return true;
    };
    a.device.inject(packet(84, 1));
    a.link.pumpDevice();
    // An idle tunnel's lone packet is not held back by the read that finds the device empty.
    assert.deepEqual(events, ["read", "flush", "empty", "flush"]);
    events.length = 0;
    for (let i = 0; i < 3; i++) a.device.inject(packet(1400, 2 + i));
    a.link.pumpDevice();
    // Under load the rest of the wake-up's packets still go out together.
    assert.deepEqual(events, ["read", "flush", "read", "read", "empty", "flush"]);
    assert.equal(a.transport.sent.length, 4);
  });

  it("drops packets the device refuses (EIO before `up`) and keeps the link", () => {
    const [a, b] = pair();
    let down = true;
    b.device.refuse = () => (down ? -Errno.EIO : 0);
    a.device.inject(packet(100, 1));
    a.device.inject(packet(100, 2));
    settle(a, b);
    down = false;
    a.device.inject(packet(100, 3));
    settle(a, b);
    assert.equal(b.link.end, null);
    assert.deepEqual(b.device.written, [packet(100, 3)]);
    assert.equal(b.link.stats.deviceDrops.get("EIO"), 2);
    assert.equal(b.lines.filter((l) => l.includes("EIO")).length, 1, "logged once, then counted");
    assert.match(b.link.stats.summary(), /dropped 2 EIO/);
  });

  it("drops device packets longer than a frame can carry", () => {
    const [a, b] = pair();
    a.device.inject(packet(MAX_PACKET + 1, 1));
    a.device.inject(packet(64, 2));
    settle(a, b);
    assert.deepEqual(b.device.written, [packet(64, 2)]);
    assert.equal(a.link.stats.oversize, 1);
    assert.equal(a.link.end, null);
  });

  it("counts bad frames and goes on", () => {
    const [a, b] = pair();
    b.transport.sendRaw(new Uint8Array([0x00, 0x10, 1, 2])); // header says 16 bytes, 2 follow
    b.transport.sendRaw(new Uint8Array([0x0f, 0xff])); // 4095 > 2148
    a.link.pumpTransport();
    assert.equal(a.link.stats.badFrames, 2);
    assert.equal(a.link.end, null);
    assert.ok(a.lines.some((l) => l.includes("Received bad frame")));
  });

  it("stops reading the device while the socket is backed up", () => {
    const [a] = pair();
    a.transport.backlog = 1 << 20;
    assert.equal(a.link.wantsDevice, false);
    a.device.inject(packet(100, 1));
    a.link.pumpDevice();
    assert.equal(a.device.inbound.length, 1, "the packet stays in the device queue");
    a.transport.backlog = 0;
    assert.equal(a.link.wantsDevice, true);
  });

  it("with a known send rate, stops at 10 ms of it, and hands the rate to the device for its queue", () => {
    const [ta] = memoryTransportPair("tcp");
    ta.sendRate = 0;
    const device = new MemoryDevice("tunA");
    const link = new Link(device, ta, new Pipeline([]), { keepalive: null, initialEcho: false }, memoryLogger().log);
    assert.ok(device.drainRate, "the device was told where the rate comes from");
    ta.sendRate = 2_500_000; // 20 Mbit/s: 25 kB
    assert.equal(device.drainRate(), 2_500_000);
    ta.backlog = 30_000;
    assert.equal(link.wantsDevice, true, "not before the link has looked at the rate");
    link.pumpDevice();
    assert.equal(link.wantsDevice, false);
    ta.backlog = 24_000;
    assert.equal(link.wantsDevice, true);
    ta.sendRate = 100_000; // 0.8 Mbit/s: the 16 KiB floor
    link.pumpDevice();
    ta.backlog = LINK_QUEUE_MIN;
    assert.equal(link.wantsDevice, false);
    ta.sendRate = 0; // unknown again: the usual 128 KiB
    link.pumpDevice();
    ta.backlog = 100_000;
    assert.equal(link.wantsDevice, true);
    assert.equal(linkQueueFor(1.25e9), 128 * 1024, "fast links keep 128 KiB");
  });

  it("without a send rate (UDP), keeps 128 KiB and leaves the device's queue alone", () => {
    const [a] = pair();
    assert.equal(a.device.drainRate, null);
    a.transport.backlog = 128 * 1024 - 1;
    a.link.pumpDevice();
    assert.equal(a.link.wantsDevice, true);
  });

  it("ends with an error when the transport or device fails", () => {
    const [a] = pair();
    a.transport.failSends = "tcp: send failed: ECONNRESET";
    a.device.inject(packet(100, 1));
    a.link.pumpDevice();
    assert.deepEqual(a.link.end, { kind: "error", message: "tcp: send failed: ECONNRESET" });
    const [c] = pair();
    c.device.broken = true;
    c.link.pumpDevice();
    assert.equal(c.link.end?.kind, "error");
  });

  it("runs packets through the pipeline stages both ways", () => {
    // A toy stage: prefix a marker byte and invert every byte; drops packets starting with 0xff.
    const invert: FrameStage = {
      name: "invert",
      overhead: 1,
      encode(src, at, n, dst, dstAt) {
        if (src[at] === 0xff) return 0;
        dst[dstAt] = 0xaa;
        for (let i = 0; i < n; i++) dst[dstAt + 1 + i] = ~src[at + i]! & 0xff;
        return n + 1;
      },
      decode(src, at, n, dst, dstAt) {
        if (src[at] !== 0xaa) return 0;
        for (let i = 1; i < n; i++) dst[dstAt + i - 1] = ~src[at + i]! & 0xff;
        return n - 1;
      },
    };
    const [a, b] = pair({}, [invert]);
    a.device.inject(packet(200, 9));
    a.device.inject(new Uint8Array([0xff, 1, 2])); // dropped by encode
    settle(a, b);
    assert.deepEqual(b.device.written, [packet(200, 9)]);
    const dataFrames = a.transport.sent.filter((f) => (headerOf(f) & 0xf000) === 0);
    assert.equal(dataFrames.length, 1);
    assert.equal(dataFrames[0]![2], 0xaa, "the wire carries the encoded form");
    b.transport.sendRaw(new Uint8Array([0x00, 0x02, 0x00, 0x00])); // not 0xaa-prefixed: decode drops it
    a.link.pumpTransport();
    assert.equal(a.link.stats.decodeDrops, 1);
    assert.equal(a.link.end, null);
  });
});

describe("Link: vtund parity details", () => {
  it("a 1-byte packet (a peer's resync dummy) is dropped on packet devices, delivered on streams", () => {
    const [a, b] = pair({ dropDummyPackets: true });
    a.link.start(0);
    b.link.start(0);
    a.device.inject(packet(1, 9));
    a.device.inject(packet(100, 9));
    settle(a, b);
    assert.deepEqual(b.device.written, [packet(100, 9)]);
    assert.equal(b.link.stats.dummyFrames, 1);
    assert.equal(b.link.end, null, "the link goes on");
    const [c, d] = pair({ dropDummyPackets: false });
    c.link.start(0);
    d.link.start(0);
    c.device.inject(packet(1, 9));
    settle(c, d);
    assert.deepEqual(d.device.written, [packet(1, 9)]);
  });

  it("a stage asking for a dummy frame makes the link send a 1-byte frame through the pipeline", () => {
    let requests = 0;
    const encoded: number[] = [];
    const stage: FrameStage = {
      name: "probe",
      overhead: 0,
      encode(src, at, n, dst, dstAt) {
        encoded.push(n);
        dst.set(src.subarray(at, at + n), dstAt);
        return n;
      },
      decode(src, at, n, dst, dstAt) {
        dst.set(src.subarray(at, at + n), dstAt);
        requests++;
        return n;
      },
      takeDummyRequest: () => requests === 1,
    };
    const [a, b] = pair({}, [stage]);
    a.link.start(0);
    b.link.start(0);
    a.device.inject(packet(50, 1));
    settle(a, b);
    assert.ok(encoded.includes(1), `b encoded a 1-byte dummy (encoded sizes ${encoded.join(",")})`);
  });

  it("the shaper holds device reads back once its bucket is empty", async () => {
    const { Shaper } = await import("./shaper.ts");
    let t = 0;
    const shaper = new Shaper(8, () => t); // 8 kbit/s: 1424 bytes/s, burst 4300 bytes
    const [a, b] = pair({ shaper });
    a.link.start(0);
    b.link.start(0);
    for (let i = 0; i < 10; i++) a.device.inject(packet(1400, i));
    settle(a, b);
    const first = b.device.written.length;
    assert.ok(first >= 3 && first <= 4, `a burst of ${first} packets`);
    assert.equal(a.link.wantsDevice, false);
    assert.ok(a.link.msUntilTick(t) > 0, "the poll timeout covers the shaper's wait");
    t += 1000;
    settle(a, b);
    assert.equal(b.device.written.length, first + 1, "one more second, one more 1400-byte packet");
  });

  it("stat reports every interval and resetStats zeroes the counters", () => {
    const reports: string[] = [];
    const [a, b] = pair({ stat: { intervalMs: 1000, report: (s) => reports.push(`${s.bytesOut}/${s.wireOut}`) } });
    a.link.start(0);
    b.link.start(0);
    a.device.inject(packet(100, 1));
    settle(a, b);
    a.link.tick(999);
    assert.deepEqual(reports, []);
    a.link.tick(1000);
    assert.deepEqual(reports, ["100/100"]);
    a.link.resetStats();
    a.link.tick(2000);
    assert.deepEqual(reports, ["100/100", "0/0"]);
  });
});
