/**
 * A device batch through a costly pipeline serves the transport in between:
 * frames the peer sent meanwhile (the ACKs of the traffic being sent, echo
 * requests) are handled every SERVICE_INTERVAL_MS, not after the whole batch.
 * A fake clock stands in for time: the "slow" stage advances it per packet.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { memoryLogger } from "../log.ts";
import { CONTROL_MASK, ECHO_REP, ECHO_REQ, HEADER_SIZE, readHeader } from "../protocol/frame.ts";
import { MemoryBurstDevice } from "../../test/fakes/memory_burst_device.ts";
import { MemoryDevice } from "../../test/fakes/memory_device.ts";
import { memoryTransportPair, type MemoryTransport } from "../../test/fakes/memory_transport.ts";
import { Link, SERVICE_INTERVAL_MS } from "./link.ts";
import { Pipeline, type FrameStage } from "./pipeline.ts";

function packet(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (seed * 7 + i) & 0xff;
  return p;
}

/** A pass-through stage that takes `msPerPacket` of the fake clock per encode. */
function costly(clock: { now: number }, msPerPacket: number): FrameStage {
  return {
    name: "costly",
    overhead: 0,
    encode(src, at, n, dst, dstAt) {
      clock.now += msPerPacket;
      dst.set(src.subarray(at, at + n), dstAt);
      return n;
    },
    decode(src, at, n, dst, dstAt) {
      dst.set(src.subarray(at, at + n), dstAt);
      return n;
    },
  };
}

/** Side A reads `device`; side B (a plain link over the same transport pair) sends to it. */
function setup<D extends MemoryBurstDevice | MemoryDevice>(device: D, msPerPacket: number, stages = true) {
  const clock = { now: 1000 };
  const [ta, tb] = memoryTransportPair("tcp");
  const pipeline = new Pipeline(stages ? [costly(clock, msPerPacket)] : []);
  const a = new Link(device, ta, pipeline, { keepalive: null, initialEcho: false, clock: () => clock.now }, memoryLogger().log);
  const peerDevice = new MemoryDevice("peer");
  const b = new Link(peerDevice, tb, new Pipeline(stages ? [costly({ now: 0 }, 0)] : []), { keepalive: null, initialEcho: false }, memoryLogger().log);
  return { a, b, ta, tb, peerDevice, clock };
}

/** The peer's packets, already on the wire towards A before A's batch starts. */
function peerSends(b: Link, peerDevice: MemoryDevice, count: number): Uint8Array[] {
  const sent = Array.from({ length: count }, (_, i) => packet(60, 100 + i));
  for (const p of sent) peerDevice.inject(p);
  b.pumpDevice();
  return sent;
}

/** How many data frames A had sent when each of A's merged device writes happened. */
function recordWrites(device: MemoryBurstDevice, ta: MemoryTransport): number[] {
  const at: number[] = [];
  const endWrites = device.endWrites.bind(device);
  device.endWrites = () => {
    const before = device.batches.length;
    const r = endWrites();
    if (device.batches.length > before) at.push(ta.sent.length);
    return r;
  };
  return at;
}

describe("Link serving the transport during a costly device batch", () => {
  it("burst device: the peer's packets reach the device a few frames into the batch, not after it", () => {
    const device = new MemoryBurstDevice("tunA");
    const { a, b, ta, peerDevice } = setup(device, 0.1);
    const fromPeer = peerSends(b, peerDevice, 3);
    const writesAt = recordWrites(device, ta);
    const burst = Array.from({ length: 40 }, (_, i) => packet(1400, i));
    device.bursts.push(burst.slice(0, 20), burst.slice(20));
    a.pumpDevice();
    // 0.1 ms per packet, a clock check every 8 frames; the interval starts at the first check
    // (frame 8), so the transport is served at frame 16, once: the peer sent nothing more.
    assert.deepEqual(writesAt, [16]);
    assert.deepEqual(device.batches, [fromPeer]);
    assert.equal(ta.sent.length, 40, "the whole batch was still sent");
    assert.deepEqual(ta.sent.map((f) => f.subarray(HEADER_SIZE)), burst);
  });

  it("plain device: the same, one packet per read", () => {
    const device = new MemoryDevice("tunA");
    const { a, b, ta, peerDevice } = setup(device, 0.1);
    const fromPeer = peerSends(b, peerDevice, 2);
    const toPeer = Array.from({ length: 30 }, (_, i) => packet(1000, i));
    const deliveredAt: number[] = [];
    const write = device.writePacket.bind(device);
    device.writePacket = (buf, off, n) => {
      deliveredAt.push(ta.sent.length);
      return write(buf, off, n);
    };
    for (const p of toPeer) device.inject(p);
    a.pumpDevice();
    assert.deepEqual(deliveredAt, [16, 16]);
    assert.deepEqual(device.written, fromPeer);
    assert.equal(ta.sent.length, 30);
  });

  it("answers an echo request in the middle of the batch", () => {
    const device = new MemoryBurstDevice("tunA");
    const { a, ta, tb } = setup(device, 0.1);
    tb.sendControl(ECHO_REQ);
    tb.flush();
    device.bursts.push(Array.from({ length: 24 }, (_, i) => packet(1400, i)));
    a.pumpDevice();
    const kinds = ta.sent.map((f) => (readHeader(f, 0) & CONTROL_MASK ? "control" : "data"));
    const reply = kinds.indexOf("control");
    assert.ok(reply > 0 && reply < kinds.length - 1, `ECHO_REP between the batch's frames: ${reply} of ${kinds.length}`);
    assert.equal(readHeader(ta.sent[reply]!, 0) & CONTROL_MASK, ECHO_REP);
  });

  it("a fast pipeline (under SERVICE_INTERVAL_MS for the batch) leaves the transport for afterwards", () => {
    const device = new MemoryBurstDevice("tunA");
    const { a, b, ta, peerDevice } = setup(device, SERVICE_INTERVAL_MS / 64);
    const fromPeer = peerSends(b, peerDevice, 3);
    device.bursts.push(Array.from({ length: 40 }, (_, i) => packet(1400, i)));
    a.pumpDevice();
    assert.deepEqual(device.batches, [], "nothing taken from the transport during the batch");
    assert.equal(ta.sent.length, 40);
    a.pumpTransport();
    assert.deepEqual(device.batches, [fromPeer]);
  });

  it("a batch of fewer than 8 frames does not read the clock (an idle ping stays cheap)", () => {
    const device = new MemoryBurstDevice("tunA");
    let reads = 0;
    const [ta] = memoryTransportPair("tcp");
    const a = new Link(device, ta, new Pipeline([costly({ now: 0 }, 1)]), {
      keepalive: null,
      initialEcho: false,
      clock: () => ++reads,
    }, memoryLogger().log);
    device.bursts.push([packet(84, 1)]);
    a.pumpDevice();
    assert.equal(ta.sent.length, 1);
    assert.equal(reads, 0);
  });

  it("without a pipeline the batch never stops for the transport", () => {
    const device = new MemoryBurstDevice("tunA");
    const { a, b, peerDevice, clock } = setup(device, 0, false);
    peerSends(b, peerDevice, 3);
    // Time passes at 1 ms per burst here; a plain copy is cheap enough not to matter in reality.
    const readBurst = device.readBurst.bind(device);
    device.readBurst = (emit) => {
      clock.now += 1;
      return readBurst(emit);
    };
    for (let i = 0; i < 10; i++) device.bursts.push(Array.from({ length: 8 }, (_, j) => packet(1400, i * 8 + j)));
    a.pumpDevice();
    assert.deepEqual(device.batches, []);
  });
});
