/**
 * The UDP port exchange after `OK FLAGS: <U...>`: port encoding in both byte
 * orders, order detection (palindromic ports, NAT mismatch), the bytes of the
 * real vtund 3.0.4 UDP captures (little-endian both ways, and what vtunts
 * answers to them), and exchangeUdpPorts over in-memory streams: vtunts
 * client or server against a peer that speaks first in little-endian (Debian
 * vtund) or big-endian (upstream vtund), and vtunts against vtunts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { StreamError } from "../protocol/stream.ts";
import {
  decodePort,
  DEFAULT_PORT_ORDER,
  detectPortOrder,
  encodePort,
  exchangeUdpPorts,
  type PortExchangeParams,
} from "./udp_ports.ts";
import { memoryStreamPair, scriptedStream } from "../../test/fakes/memory_stream.ts";
import { allVectors, handshakeRecords, toHex } from "../../test/vectors/vectors.ts";
import { decodeRecord } from "../protocol/record.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

const SERVER_PORT = 5000; // 0x1388
const CLIENT_PORT = 43165; // 0xa89d, the client's source port in udp-plain.json

const client = (p: Partial<PortExchangeParams> = {}): PortExchangeParams => ({
  role: "client",
  ownPort: CLIENT_PORT,
  expectedPeerPort: SERVER_PORT,
  timeoutMs: 2000,
  ...p,
});
const server = (p: Partial<PortExchangeParams> = {}): PortExchangeParams => ({
  role: "server",
  ownPort: SERVER_PORT,
  expectedPeerPort: CLIENT_PORT,
  timeoutMs: 2000,
  graceMs: 20,
  ...p,
});

async function streamFailure(p: Promise<unknown>): Promise<StreamError> {
  let error: unknown = null;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof StreamError, `expected a StreamError, got ${String(error)}`);
  return error;
}

describe("encodePort / decodePort", () => {
  it("encode 5000 as 88 13 (little-endian) and 13 88 (big-endian)", () => {
    assert.equal(toHex(encodePort(5000, "le")), "8813");
    assert.equal(toHex(encodePort(5000, "be")), "1388");
    assert.equal(toHex(encodePort(15000, "le")), "983a"); // seen live from Debian's vtund (spec §4.1)
  });

  it("decode what they encode, for the whole port range's edges and a sample", () => {
    for (const port of [0, 1, 255, 256, 5000, 43165, 65534, 65535]) {
      for (const order of ["le", "be"] as const) {
        const b = encodePort(port, order);
        assert.equal(b.length, 2);
        assert.equal(decodePort(b, order), port, `${port} ${order}`);
      }
    }
    assert.equal(decodePort(bytes(0x88, 0x13), "le"), 5000);
    assert.equal(decodePort(bytes(0x88, 0x13), "be"), 0x8813);
  });
});

describe("detectPortOrder", () => {
  it("tells little- from big-endian by the expected port", () => {
    assert.equal(detectPortOrder(bytes(0x88, 0x13), 5000), "le");
    assert.equal(detectPortOrder(bytes(0x13, 0x88), 5000), "be");
  });

  it("says be for a palindromic port, which reads the same both ways", () => {
    assert.equal(detectPortOrder(bytes(0x14, 0x14), 0x1414), "be");
    assert.equal(detectPortOrder(bytes(0x00, 0x00), 0), "be");
    assert.equal(detectPortOrder(bytes(0x14, 0x14), 0x1414, "le"), "le", "a palindrome takes the preferred order");
  });

  it("returns null when neither order gives the expected port (NAT)", () => {
    assert.equal(detectPortOrder(bytes(0x70, 0x17), 5000), null); // 6000 LE
    assert.equal(detectPortOrder(bytes(0x17, 0x70), 5000), null);
  });
});

describe("the real vtund's UDP captures", () => {
  const udp = allVectors().filter((v) => {
    const r = handshakeRecords(v);
    return r !== null && decodeRecord(r.s2c[2]).startsWith("OK FLAGS: <U");
  });

  it("include udp-plain.json", () => {
    assert.ok(udp.some((v) => v.file === "udp-plain.json"));
  });

  for (const v of udp) {
    const r = handshakeRecords(v)!;
    const serverBytes = r.after.s2c.slice(0, 2);
    const clientBytes = r.after.c2s.slice(0, 2);
    const clientPort = v.tcp_events.find((e) => e.dir === "c2s" && e.flags === "S")!.sport;

    it(`${v.file}: both sides sent their port little-endian`, () => {
      assert.equal(toHex(serverBytes), "8813");
      assert.equal(detectPortOrder(serverBytes, v.port), "le");
      assert.equal(detectPortOrder(clientBytes, clientPort), "le");
      assert.equal(decodePort(clientBytes, "le"), clientPort);
    });

    it(`${v.file}: a vtunts client answers the real server exactly as the real client did`, async () => {
      const stream = scriptedStream([serverBytes]);
      const result = await exchangeUdpPorts(stream, client({ ownPort: clientPort, expectedPeerPort: v.port }));
      assert.deepEqual(result, { peerPort: v.port, order: "le", detected: true });
      assert.equal(toHex(stream.written()), toHex(clientBytes));
    });

    it(`${v.file}: a vtunts server answers the real client exactly as the real server did`, async () => {
      const stream = scriptedStream([clientBytes]);
      const result = await exchangeUdpPorts(stream, server({ ownPort: v.port, expectedPeerPort: clientPort }));
      assert.deepEqual(result, { peerPort: clientPort, order: "le", detected: true });
      assert.equal(toHex(stream.written()), toHex(serverBytes));
    });
  }
});

describe("exchangeUdpPorts", () => {
  it("defaults to little-endian", () => {
    assert.equal(DEFAULT_PORT_ORDER, "le");
  });

  describe("vtunts client", () => {
    it("answers a Debian server (little-endian, at once) in little-endian", async () => {
      const [c, peer] = memoryStreamPair();
      await peer.write(bytes(0x88, 0x13));
      const result = await exchangeUdpPorts(c, client());
      assert.deepEqual(result, { peerPort: 5000, order: "le", detected: true });
      assert.equal(toHex(await peer.readExact(2, 1000)), "9da8");
    });

    it("answers an upstream server (big-endian, at once) in big-endian", async () => {
      const [c, peer] = memoryStreamPair();
      await peer.write(bytes(0x13, 0x88));
      const result = await exchangeUdpPorts(c, client());
      assert.deepEqual(result, { peerPort: 5000, order: "be", detected: true });
      assert.equal(toHex(await peer.readExact(2, 1000)), "a89d");
    });

    it("waits for the server's port before writing its own", async () => {
      const [c, peer] = memoryStreamPair();
      const exchange = exchangeUdpPorts(c, client());
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(c.writes.length, 0);
      await peer.write(bytes(0x13, 0x88));
      assert.equal((await exchange).order, "be");
      assert.equal(toHex(c.written()), "a89d");
    });

    it("uses the fallback order when the port is not the expected one (NAT)", async () => {
      for (const fallbackOrder of ["le", "be"] as const) {
        const [c, peer] = memoryStreamPair();
        await peer.write(bytes(0x17, 0x70)); // 6000 big-endian, or 28695 little-endian
        const result = await exchangeUdpPorts(c, client({ fallbackOrder }));
        assert.deepEqual(result, { peerPort: fallbackOrder === "be" ? 6000 : 0x7017, order: fallbackOrder, detected: false });
        assert.equal(toHex(await peer.readExact(2, 1000)), fallbackOrder === "be" ? "a89d" : "9da8");
      }
    });

    it("answers a Debian server on a palindromic port in the fallback order, not big-endian", async () => {
      // Port 0x1414 reads the same both ways, so it says nothing about the server's byte order:
      // the configured fallback (little-endian, Debian's) must decide, or a Debian server
      // would read our port byte-swapped and send its UDP traffic to the wrong port.
      const [c, peer] = memoryStreamPair();
      await peer.write(bytes(0x14, 0x14));
      const result = await exchangeUdpPorts(c, client({ expectedPeerPort: 0x1414 }));
      assert.deepEqual(result, { peerPort: 0x1414, order: "le", detected: true });
      assert.equal(toHex(await peer.readExact(2, 1000)), "9da8");
    });

    it("fails with the stream's error when the server closes or stays silent", async () => {
      const [c, peer] = memoryStreamPair();
      peer.close();
      assert.equal((await streamFailure(exchangeUdpPorts(c, client()))).failure, "eof");
      const [c2] = memoryStreamPair();
      assert.equal((await streamFailure(exchangeUdpPorts(c2, client({ timeoutMs: 30 })))).failure, "timeout");
    });
  });

  describe("vtunts server", () => {
    it("answers a Debian client (little-endian, at once) in little-endian", async () => {
      const [s, peer] = memoryStreamPair();
      await peer.write(bytes(0x9d, 0xa8));
      const result = await exchangeUdpPorts(s, server());
      assert.deepEqual(result, { peerPort: CLIENT_PORT, order: "le", detected: true });
      assert.equal(toHex(await peer.readExact(2, 1000)), "8813");
    });

    it("answers an upstream client (big-endian, at once) in big-endian", async () => {
      const [s, peer] = memoryStreamPair();
      await peer.write(bytes(0xa8, 0x9d));
      const result = await exchangeUdpPorts(s, server());
      assert.deepEqual(result, { peerPort: CLIENT_PORT, order: "be", detected: true });
      assert.equal(toHex(await peer.readExact(2, 1000)), "1388");
    });

    it("still detects a client that speaks within the grace period", async () => {
      const [s, peer] = memoryStreamPair();
      const exchange = exchangeUdpPorts(s, server({ graceMs: 500 }));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(s.writes.length, 0, "the server has not spoken yet");
      await peer.write(bytes(0xa8, 0x9d));
      assert.deepEqual(await exchange, { peerPort: CLIENT_PORT, order: "be", detected: true });
      assert.equal(toHex(s.written()), "1388");
    });

    it("answers a Debian client on a palindromic port in the fallback order, not big-endian", async () => {
      const [s, peer] = memoryStreamPair();
      await peer.write(bytes(0x9d, 0x9d));
      const result = await exchangeUdpPorts(s, server({ expectedPeerPort: 0x9d9d }));
      assert.deepEqual(result, { peerPort: 0x9d9d, order: "le", detected: true });
      assert.equal(toHex(await peer.readExact(2, 1000)), "8813");
      // ...and in big-endian when that is the configured fallback.
      const [s2, peer2] = memoryStreamPair();
      await peer2.write(bytes(0x9d, 0x9d));
      assert.equal((await exchangeUdpPorts(s2, server({ expectedPeerPort: 0x9d9d, fallbackOrder: "be" }))).order, "be");
      assert.equal(toHex(await peer2.readExact(2, 1000)), "1388");
    });

    it("fails with 'eof' when the client closes during the grace period", async () => {
      const [s, peer] = memoryStreamPair();
      peer.close();
      assert.equal((await streamFailure(exchangeUdpPorts(s, server({ graceMs: 500 })))).failure, "eof");
    });

    it("speaks first after the grace period, then fails with 'timeout' if the client never answers", async () => {
      const [s] = memoryStreamPair();
      const error = await streamFailure(exchangeUdpPorts(s, server({ graceMs: 20, timeoutMs: 30 })));
      assert.equal(error.failure, "timeout");
      assert.equal(toHex(s.written()), "8813");
    });
  });

  describe("vtunts server against vtunts client", () => {
    for (const fallbackOrder of ["le", "be"] as const) {
      it(`agree on each other's ports (both falling back to ${fallbackOrder}); the server speaks first after graceMs`, async () => {
        const [s, c] = memoryStreamPair();
        const started = Date.now();
        const [sr, cr] = await Promise.all([
          exchangeUdpPorts(s, server({ graceMs: 20, fallbackOrder })),
          exchangeUdpPorts(c, client({ fallbackOrder })),
        ]);
        assert.ok(Date.now() - started >= 15, "the server waited for its grace period");
        assert.deepEqual(sr, { peerPort: CLIENT_PORT, order: fallbackOrder, detected: true });
        assert.deepEqual(cr, { peerPort: SERVER_PORT, order: fallbackOrder, detected: true });
        assert.equal(toHex(s.written()), fallbackOrder === "le" ? "8813" : "1388");
        assert.equal(toHex(c.written()), fallbackOrder === "le" ? "9da8" : "a89d");
      });
    }

    it("agree with the default order and ports that differ from TCP's (NAT)", async () => {
      const [s, c] = memoryStreamPair();
      const [sr, cr] = await Promise.all([
        exchangeUdpPorts(s, server({ ownPort: 6000 })),
        exchangeUdpPorts(c, client({ ownPort: 40000 })),
      ]);
      assert.deepEqual(sr, { peerPort: 40000, order: "le", detected: false });
      assert.deepEqual(cr, { peerPort: 6000, order: "le", detected: false });
    });
  });
});
