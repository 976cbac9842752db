/**
 * The link with a burst device (a TUN with offloads): every packet of a burst
 * becomes its own frame, received packets are handed over as they arrive and
 * written out once per receive batch, refusals are counted, and over a
 * datagram transport the device is told how long a packet may be.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../ffi/errno.ts";
import { memoryLogger } from "../log.ts";
import { HEADER_SIZE, MAX_PACKET } from "../protocol/frame.ts";
import { MemoryBurstDevice } from "../../test/fakes/memory_burst_device.ts";
import { MemoryDevice } from "../../test/fakes/memory_device.ts";
import { memoryTransportPair } from "../../test/fakes/memory_transport.ts";
import { Link } from "./link.ts";
import { Pipeline, type FrameStage } from "./pipeline.ts";
import { trailerStage } from "../../test/fakes/stages.ts";

function packet(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (seed * 13 + i) & 0xff;
  return p;
}

function setup(stages: FrameStage[] = []) {
  const [ta, tb] = memoryTransportPair("udp");
  const burst = new MemoryBurstDevice("tunA");
  const plain = new MemoryDevice("tunB");
  const a = new Link(burst, ta, new Pipeline(stages), { keepalive: null, initialEcho: false }, memoryLogger().log);
  const { log, lines } = memoryLogger();
  const b = new Link(plain, tb, new Pipeline(stages), { keepalive: null, initialEcho: false }, log);
  return { burst, plain, a, b, ta, tb, lines };
}

describe("Link with a burst device", () => {
  it("writes the first burst of a wake-up out before reading the device again", () => {
    const { burst, a, ta } = setup();
    const events: string[] = [];
    const readBurst = burst.readBurst.bind(burst);
    burst.readBurst = (emit) => {
      const got = readBurst(emit);
      events.push(got ? "burst" : "empty");
      return got;
    };
    ta.flush = () => {
      events.push(`flush ${ta.sent.length}`);
      return true;
    };
    burst.bursts.push([packet(1448, 1), packet(1448, 2)], [packet(60, 3)]);
    a.pumpDevice();
    assert.deepEqual(events, ["burst", "flush 2", "burst", "empty", "flush 3"]);
  });

  it("sends every packet of a burst as its own frame, in order", () => {
    const { burst, plain, a, b, ta } = setup();
    const first = [packet(1448, 1), packet(1448, 2), packet(700, 3)];
    const second = [packet(60, 4)];
    burst.bursts.push(first, second);
    a.pumpDevice();
    assert.deepEqual(ta.sent.map((f) => f.length - HEADER_SIZE), [1448, 1448, 700, 60]);
    b.pumpTransport();
    assert.deepEqual(plain.written, [...first, ...second]);
    assert.equal(a.stats.packetsOut, 4);
    assert.equal(a.stats.bytesOut, 1448 * 2 + 700 + 60);
  });

  it("encodes each packet through the pipeline", () => {
    const { burst, plain, a, b, ta } = setup([trailerStage(16)]);
    burst.bursts.push([packet(100, 5), packet(200, 6)]);
    a.pumpDevice();
    assert.deepEqual(ta.sent.map((f) => f.length - HEADER_SIZE), [116, 216]);
    b.pumpTransport();
    assert.deepEqual(plain.written, [packet(100, 5), packet(200, 6)]);
  });

  it("drops packets longer than a frame may carry, keeps the rest of the burst", () => {
    const { burst, a, ta } = setup();
    burst.bursts.push([packet(100, 7), packet(MAX_PACKET + 1, 8), packet(90, 9)]);
    a.pumpDevice();
    assert.deepEqual(ta.sent.map((f) => f.length - HEADER_SIZE), [100, 90]);
    assert.equal(a.stats.oversize, 1);
  });

  it("hands received packets over as they come and ends the batch after each receive", () => {
    const { burst, plain, a, b } = setup();
    for (let i = 0; i < 5; i++) plain.inject(packet(1000, 10 + i));
    b.pumpDevice();
    a.pumpTransport();
    plain.inject(packet(40, 20));
    b.pumpDevice();
    a.pumpTransport();
    a.pumpTransport(); // nothing new: no empty batch
    assert.deepEqual(burst.batches.map((batch) => batch.length), [5, 1]);
    assert.deepEqual(burst.batches[1], [packet(40, 20)]);
    assert.equal(a.stats.packetsIn, 6);
  });

  it("counts a refused merged write as a device drop without ending the link", () => {
    const { burst, plain, a, b } = setup();
    plain.inject(packet(500, 30));
    b.pumpDevice();
    burst.failNextEnd = -Errno.EIO;
    a.pumpTransport();
    assert.equal(a.stats.deviceDrops.get("EIO"), 1);
    assert.equal(a.end, null);
  });

  it("tells the device the longest packet that fits a datagram frame, less the pipeline's overhead", () => {
    const { burst, a, ta } = setup([trailerStage(16)]);
    Object.assign(ta, { maxFrame: 1472 });
    burst.bursts.push([packet(10, 40)]);
    a.pumpDevice();
    assert.equal(burst.packetLimit, 1472 - HEADER_SIZE - 16);
    Object.assign(ta, { maxFrame: 0 });
    a.pumpDevice();
    assert.equal(burst.packetLimit, 0, "no limit once the transport has none");
  });
});
