/**
 * The GSO splitter on hand-built TUN reads: TSO4/TSO6 64 KiB super-segments
 * with timestamps into 1448-byte segments (sequence numbers, IP ids, lengths,
 * FIN/PSH only on the last, CWR only on the first), USO, partial checksums of
 * plain packets, and the drops. Every produced packet is verified with the
 * naive reference checksum from test/fakes/packets.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ACK,
  buildPacket,
  concat,
  CWR,
  ECE,
  FIN,
  parse,
  pattern,
  PSH,
  tsOption,
  withVnet,
  type PacketSpec,
  type Parsed,
} from "../../test/fakes/packets.ts";
import { GsoSplitter } from "./gso_split.ts";
import { GSO_ECN, GSO_TCPV4, GSO_TCPV6, GSO_UDP, GSO_UDP_L4, VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM } from "./vnet_header.ts";

/** Runs the splitter and returns copies of what it emitted. */
function split(buf: Uint8Array, off = 0, len = buf.length - off, splitter = new GsoSplitter()): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = splitter.split(buf, off, len, (b, o, l) => out.push(b.slice(o, o + l)));
  assert.equal(n, out.length);
  return out;
}

/** A TSO read as the kernel hands it over: partial checksum, virtio header with gso fields. */
function tsoRead(spec: PacketSpec, mss: number, opts: { ecn?: boolean; lead?: number } = {}): Uint8Array {
  const pkt = buildPacket({ ...spec, partial: true });
  const v6 = spec.v6 ?? false;
  const tcp = (spec.proto ?? "tcp") === "tcp";
  const ipHdr = v6 ? 40 : 20;
  const type = tcp ? (v6 ? GSO_TCPV6 : GSO_TCPV4) : GSO_UDP_L4;
  return withVnet(pkt, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: type | (opts.ecn ? GSO_ECN : 0),
    hdrLen: 0x42, // deliberately wrong: lengths must come from the headers
    gsoSize: mss,
    csumStart: ipHdr,
    csumOffset: tcp ? 16 : 6,
  }, opts.lead ?? 0);
}

const MSS = 1448;
const OPTS = tsOption(0x01020304, 0x0a0b0c0d);

function checkTcpSegments(segs: Parsed[], spec: { seq: number; id: number; flags: number; payload: Uint8Array; mss: number; v6: boolean }): void {
  const count = Math.ceil(spec.payload.length / spec.mss);
  assert.equal(segs.length, count);
  segs.forEach((s, i) => {
    const last = i === count - 1;
    assert.ok(s.ipChecksumOk, `segment ${i}: IP header checksum`);
    assert.ok(s.l4ChecksumOk, `segment ${i}: TCP checksum`);
    assert.equal(s.payload.length, last ? spec.payload.length - i * spec.mss : spec.mss);
    assert.equal(s.seq, (spec.seq + i * spec.mss) >>> 0, `segment ${i}: seq`);
    assert.equal(s.ack, 777);
    if (!spec.v6) assert.equal(s.id, (spec.id + i) & 0xffff, `segment ${i}: IP id`);
    assert.equal(s.totalField, spec.v6 ? s.l4Hdr + s.payload.length : s.ipHdr + s.l4Hdr + s.payload.length);
    let want = spec.flags;
    if (!last) want &= ~(FIN | PSH);
    if (i !== 0) want &= ~CWR;
    assert.equal(s.flags, want, `segment ${i}: flags`);
    assert.equal(s.l4Hdr, 32, "timestamps kept");
  });
  assert.deepEqual(concat(segs.map((s) => s.payload)), spec.payload);
}

describe("GsoSplitter: TSO", () => {
  for (const v6 of [false, true]) {
    const name = v6 ? "IPv6" : "IPv4";
    it(`${name}: a 64 KiB super-segment becomes 1448-byte segments with a short last one`, () => {
      const headers = (v6 ? 40 : 20) + 32;
      const payload = pattern(65535 - headers, 11); // IP packet of exactly 65535 bytes
      const flags = ACK | PSH | FIN | CWR | ECE;
      const seq = 0xffff_f000; // wraps around 2^32 mid-stream
      const read = tsoRead({ v6, seq, id: 0xfffe, flags, options: OPTS, payload }, MSS, { ecn: true });
      const splitter = new GsoSplitter();
      const segs = split(read, 0, read.length, splitter).map(parse);
      assert.equal(segs.length, Math.ceil(payload.length / MSS));
      assert.ok(payload.length % MSS !== 0, "the last segment is short");
      checkTcpSegments(segs, { seq, id: 0xfffe, flags, payload, mss: MSS, v6 });
      assert.equal(splitter.stats.gsoPackets, 1);
      assert.equal(splitter.stats.segments, segs.length);
      assert.equal(splitter.stats.dropped, 0);
    });

    it(`${name}: an exact multiple of the MSS, at an odd offset in an odd view`, () => {
      const payload = pattern(44 * MSS, 12);
      const read = tsoRead({ v6, seq: 5, id: 9, flags: ACK, options: OPTS, payload }, MSS, { lead: 3 });
      const view = new Uint8Array(read.length + 1);
      view.set(read, 1);
      const segs = split(view.subarray(1), 3).map(parse);
      checkTcpSegments(segs, { seq: 5, id: 9, flags: ACK, payload, mss: MSS, v6 });
    });

    it(`${name}: an odd MSS (segments at odd addresses) still checksums correctly`, () => {
      const payload = pattern(20_000, 13);
      const read = tsoRead({ v6, seq: 1, id: 1, flags: ACK | PSH, options: OPTS, payload }, 1001);
      const segs = split(read).map(parse);
      checkTcpSegments(segs, { seq: 1, id: 1, flags: ACK | PSH, payload, mss: 1001, v6 });
    });

    it(`${name}: a GSO packet no longer than one MSS comes out as one full-checksum segment`, () => {
      const payload = pattern(500, 14);
      const segs = split(tsoRead({ v6, seq: 1, flags: ACK | PSH, options: OPTS, payload }, MSS)).map(parse);
      assert.equal(segs.length, 1);
      assert.ok(segs[0]!.l4ChecksumOk);
      assert.equal(segs[0]!.flags, ACK | PSH);
    });
  }

  it("the sink may write a frame header in front of each segment and scribble over the segment", () => {
    const payload = pattern(10 * MSS + 7, 15);
    const read = tsoRead({ seq: 100, id: 1, flags: ACK, options: OPTS, payload }, MSS);
    const frames: Uint8Array[] = [];
    new GsoSplitter().split(read, 0, read.length, (b, o, l) => {
      b[o - 2] = l >>> 8;
      b[o - 1] = l & 0xff;
      frames.push(b.slice(o - 2, o + l));
      b.fill(0xee, 0, o + l); // e.g. in-place encryption: later segments must not care
    });
    const segs = frames.map((f) => {
      assert.equal((f[0]! << 8) | f[1]!, f.length - 2);
      return parse(f.subarray(2));
    });
    checkTcpSegments(segs, { seq: 100, id: 1, flags: ACK, payload, mss: MSS, v6: false });
  });
});

describe("GsoSplitter: USO", () => {
  for (const v6 of [false, true]) {
    it(`${v6 ? "IPv6" : "IPv4"}: splits into separate datagrams, each with its own length and checksum`, () => {
      const payload = pattern(10_000, 21);
      const read = tsoRead({ v6, proto: "udp", id: 50, payload }, 1400);
      const segs = split(read).map(parse);
      assert.equal(segs.length, 8);
      segs.forEach((s, i) => {
        const n = i === 7 ? 10_000 - 7 * 1400 : 1400;
        assert.equal(s.payload.length, n);
        assert.equal(s.udpLength, 8 + n);
        assert.ok(s.ipChecksumOk && s.l4ChecksumOk, `datagram ${i}`);
        if (!v6) assert.equal(s.id, 50 + i);
        assert.deepEqual(s.payload, payload.subarray(i * 1400, i * 1400 + n));
      });
    });
  }
});

describe("GsoSplitter: plain packets", () => {
  for (const v6 of [false, true]) {
    it(`${v6 ? "IPv6" : "IPv4"}: finishes the partial checksum of a pure ACK`, () => {
      const full = buildPacket({ v6, flags: ACK, options: OPTS });
      const read = withVnet(buildPacket({ v6, flags: ACK, options: OPTS, partial: true }), {
        flags: VNET_F_NEEDS_CSUM, csumStart: v6 ? 40 : 20, csumOffset: 16,
      });
      const splitter = new GsoSplitter();
      const out = split(read, 0, read.length, splitter);
      assert.deepEqual(out, [full]);
      assert.equal(splitter.stats.checksumsFinished, 1);
    });
  }

  it("passes a packet without flags through untouched", () => {
    const pkt = buildPacket({ proto: "udp", payload: pattern(99) });
    assert.deepEqual(split(withVnet(pkt, {})), [pkt]);
  });
});

describe("GsoSplitter: drops", () => {
  it("IPv6 with an extension header and GSO is dropped and counted", () => {
    const read = tsoRead({ v6: true, v6NextHeader: 0, options: OPTS, payload: pattern(5000) }, MSS);
    const s = new GsoSplitter();
    assert.deepEqual(split(read, 0, read.length, s), []);
    assert.equal(s.stats.dropIpv6ExtHeader, 1);
    assert.match(s.stats.dropSummary(), /1 ipv6-ext-header/);
  });

  it("legacy UFO and a gso_type that disagrees with the packet are dropped", () => {
    const s = new GsoSplitter();
    const udp = buildPacket({ proto: "udp", payload: pattern(3000) });
    assert.deepEqual(split(withVnet(udp, { gsoType: GSO_UDP, gsoSize: 1400 }), 0, undefined, s), []);
    const tcp4 = buildPacket({ payload: pattern(3000) });
    assert.deepEqual(split(withVnet(tcp4, { gsoType: GSO_TCPV6, gsoSize: 1400 }), 0, undefined, s), []);
    assert.deepEqual(split(withVnet(tcp4, { gsoType: GSO_UDP_L4, gsoSize: 1400 }), 0, undefined, s), []);
    assert.equal(s.stats.dropUnsupportedGso, 3);
  });

  it("truncated and malformed reads are dropped", () => {
    const s = new GsoSplitter();
    const pkt = buildPacket({ payload: pattern(3000) });
    const read = withVnet(pkt, { gsoType: GSO_TCPV4, gsoSize: MSS });
    assert.deepEqual(split(read, 0, read.length - 1, s), []); // IP length > bytes read
    assert.deepEqual(split(withVnet(pkt, { gsoType: GSO_TCPV4, gsoSize: 0 }), 0, undefined, s), []);
    assert.deepEqual(split(read, 0, 9, s), []);
    const badStart = withVnet(pkt, { flags: VNET_F_NEEDS_CSUM, csumStart: 4000, csumOffset: 16 });
    assert.deepEqual(split(badStart, 0, undefined, s), []);
    assert.equal(s.stats.dropMalformed, 4);
    assert.equal(s.stats.packets, 4);
  });
});

describe("GsoSplitter: maxPacket (UDP tunnels: every frame fits one datagram)", () => {
  for (const v6 of [false, true]) {
    const name = v6 ? "IPv6" : "IPv4";
    const headers = (v6 ? 40 : 20) + 32;
    it(`${name}: TSO segments are cut to maxPacket instead of the kernel's MSS`, () => {
      const payload = pattern(30_000, 31);
      const read = tsoRead({ v6, seq: 7, id: 3, flags: ACK | PSH, options: OPTS, payload }, MSS);
      const splitter = new GsoSplitter();
      splitter.maxPacket = 1470;
      const segs = split(read, 0, read.length, splitter).map(parse);
      checkTcpSegments(segs, { seq: 7, id: 3, flags: ACK | PSH, payload, mss: 1470 - headers, v6 });
      assert.ok(segs.every((s) => s.ipHdr + s.l4Hdr + s.payload.length <= 1470));
      assert.equal(splitter.stats.capped, 1);
    });

    it(`${name}: a plain TCP packet over maxPacket is split, one at or under it passes untouched`, () => {
      const payload = pattern(1448, 32);
      const splitter = new GsoSplitter();
      splitter.maxPacket = 1470;
      const big = buildPacket({ v6, seq: 99, id: 4, flags: ACK | PSH | FIN, options: OPTS, payload, partial: true });
      const read = withVnet(big, { flags: VNET_F_NEEDS_CSUM, csumStart: v6 ? 40 : 20, csumOffset: 16 });
      const segs = split(read, 0, read.length, splitter).map(parse);
      checkTcpSegments(segs, { seq: 99, id: 4, flags: ACK | PSH | FIN, payload, mss: 1470 - headers, v6 });
      const small = buildPacket({ v6, flags: ACK, options: OPTS, payload: pattern(1470 - headers, 33) });
      assert.deepEqual(split(withVnet(small, {}), 0, undefined, splitter), [small]);
    });
  }

  it("UDP and IPv4 fragments keep their size; a limit that leaves too little payload is ignored", () => {
    const splitter = new GsoSplitter();
    splitter.maxPacket = 1000;
    const udp = buildPacket({ proto: "udp", payload: pattern(1400, 34) });
    assert.deepEqual(split(withVnet(udp, {}), 0, undefined, splitter), [udp]);
    const fragment = buildPacket({ payload: pattern(1400, 35) });
    fragment[6] = 0x20; // more fragments
    assert.deepEqual(split(withVnet(fragment, {}), 0, undefined, splitter), [fragment]);
    const uso = split(tsoRead({ proto: "udp", payload: pattern(5000, 36) }, 1400), 0, undefined, splitter).map(parse);
    assert.deepEqual(uso.map((s) => s.payload.length), [1400, 1400, 1400, 800]);
    splitter.maxPacket = 52 + 100; // 100 bytes of payload per segment: not worth it
    const read = tsoRead({ seq: 1, flags: ACK, options: OPTS, payload: pattern(5000, 37) }, MSS);
    assert.equal(split(read, 0, read.length, splitter).length, Math.ceil(5000 / MSS));
    assert.equal(splitter.stats.capped, 0);
  });
});

describe("GsoSplitter.wholePacket (the idle path's test)", () => {
  it("takes a read that split() would pass through untouched, and gives its IP length", () => {
    const s = new GsoSplitter();
    const udp = buildPacket({ proto: "udp", payload: pattern(99) });
    assert.equal(s.wholePacket(withVnet(udp, {}), 0, 10 + udp.length), udp.length);
    // DATA_VALID (checksum already checked) changes nothing; the read may start at an offset.
    assert.equal(s.wholePacket(withVnet(udp, { flags: VNET_F_DATA_VALID }, 6), 6, 10 + udp.length), udp.length);
    const tcp = buildPacket({ flags: ACK, options: OPTS, payload: pattern(500) });
    s.maxPacket = 1470;
    assert.equal(s.wholePacket(withVnet(tcp, {}), 0, 10 + tcp.length), tcp.length);
    assert.equal(s.stats.packets, 0, "not counted");
  });

  for (const v6 of [false, true]) {
    it(`${v6 ? "IPv6" : "IPv4"}: finishes the partial checksum of a pure ACK in place, as split() does`, () => {
      const full = buildPacket({ v6, flags: ACK, options: OPTS });
      const read = withVnet(buildPacket({ v6, flags: ACK, options: OPTS, partial: true }), {
        flags: VNET_F_NEEDS_CSUM, csumStart: v6 ? 40 : 20, csumOffset: 16,
      });
      const s = new GsoSplitter();
      assert.equal(s.wholePacket(read, 0, read.length), full.length);
      assert.deepEqual(read.subarray(10), full);
    });
  }

  it("leaves to split() what needs work: GSO, a bad checksum offset, a TCP packet over maxPacket, a truncated read", () => {
    const s = new GsoSplitter();
    const tcp = buildPacket({ flags: ACK, options: OPTS, payload: pattern(1448) });
    assert.equal(s.wholePacket(withVnet(tcp, { gsoType: GSO_TCPV4, gsoSize: MSS }), 0, 10 + tcp.length), 0);
    assert.equal(s.wholePacket(withVnet(tcp, { gsoType: GSO_TCPV4 | GSO_ECN, gsoSize: MSS }), 0, 10 + tcp.length), 0);
    const badStart = withVnet(tcp, { flags: VNET_F_NEEDS_CSUM, csumStart: 4000, csumOffset: 16 });
    assert.equal(s.wholePacket(badStart, 0, badStart.length), 0, "a checksum out of range: split() drops it");
    assert.deepEqual(badStart.subarray(10), tcp, "untouched");
    s.maxPacket = 1000;
    assert.equal(s.wholePacket(withVnet(tcp, {}), 0, 10 + tcp.length), 0, "TCP over maxPacket is cut by split()");
    const udp = buildPacket({ proto: "udp", payload: pattern(1400) });
    assert.equal(s.wholePacket(withVnet(udp, {}), 0, 10 + udp.length), udp.length, "UDP keeps its size");
    assert.equal(s.wholePacket(withVnet(udp, {}), 0, 10), 0, "a header alone");
  });
});
