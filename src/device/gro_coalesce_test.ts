/**
 * The coalescer: contiguous segments of one flow merge into one GSO packet
 * with the virtio fields the kernel expects; everything that must not merge
 * passes through in order; the 64 KiB limit; and split → coalesce → split
 * round trips that reproduce the original segments byte for byte.
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
  refPseudo,
  refSum,
  RST,
  SYN,
  tsOption,
  URG,
  withVnet,
  type PacketSpec,
} from "../../test/fakes/packets.ts";
import { GroCoalescer } from "./gro_coalesce.ts";
import { GsoSplitter } from "./gso_split.ts";
import { emptyVnetHeader, GSO_NONE, GSO_TCPV4, GSO_TCPV6, readVnetHeader, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, type VnetHeader } from "./vnet_header.ts";

const MSS = 1448;
const OPTS = tsOption(100, 200);

interface Written {
  vnet: VnetHeader;
  ip: Uint8Array;
}

/** A coalescer whose sink records copies of every write. */
function coalescer(maxLength?: number): { gro: GroCoalescer; out: Written[] } {
  const out: Written[] = [];
  const gro = new GroCoalescer((b, o, l) => {
    out.push({ vnet: readVnetHeader(b, o, emptyVnetHeader()), ip: b.slice(o + VNET_HDR_LEN, o + l) });
  }, maxLength);
  return { gro, out };
}

/** `count` consecutive full-MSS segments of one flow, starting at `seq`. */
function stream(count: number, spec: PacketSpec = {}, seq = 1000, size = MSS): Uint8Array[] {
  const segs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    segs.push(buildPacket({ options: OPTS, ...spec, seq: (seq + i * size) >>> 0, id: (spec.id ?? 1) + i, payload: pattern(size, i + 1) }));
  }
  return segs;
}

function feed(gro: GroCoalescer, pkts: Uint8Array[]): void {
  for (const p of pkts) {
    // At an offset in a larger buffer, which is then scribbled over: add() must copy.
    const buf = new Uint8Array(p.length + 7);
    buf.set(p, 5);
    gro.add(buf, 5, p.length);
    buf.fill(0xaa);
  }
}

/** Checks one merged write: virtio fields, lengths, IPv4 header checksum, partial TCP checksum. */
function checkMerged(w: Written, segs: Uint8Array[], v6: boolean): void {
  const ipHdr = v6 ? 40 : 20;
  const headers = ipHdr + 32;
  assert.equal(w.vnet.flags, VNET_F_NEEDS_CSUM);
  assert.equal(w.vnet.gsoType, v6 ? GSO_TCPV6 : GSO_TCPV4);
  assert.equal(w.vnet.gsoSize, segs[0]!.length - headers);
  assert.equal(w.vnet.csumStart, ipHdr);
  assert.equal(w.vnet.csumOffset, 16);
  assert.equal(w.vnet.hdrLen, headers);
  const p = parse(w.ip);
  assert.equal(w.ip.length, headers + segs.reduce((n, s) => n + s.length - headers, 0));
  assert.equal(p.totalField, v6 ? w.ip.length - 40 : w.ip.length);
  assert.ok(p.ipChecksumOk);
  assert.equal(p.seq, parse(segs[0]!).seq);
  assert.equal(p.l4Field, refSum(new Uint8Array(0), refPseudo(w.ip, 6, w.ip.length - ipHdr)), "TCP field = folded pseudo-header sum");
  assert.deepEqual(p.payload, concat(segs.map((s) => parse(s).payload)));
}

/** Splits a coalescer write again (as the kernel would when forwarding). */
function resplit(w: Written): Uint8Array[] {
  const read = new Uint8Array(VNET_HDR_LEN + w.ip.length);
  read[0] = w.vnet.flags;
  read[1] = w.vnet.gsoType;
  read[4] = w.vnet.gsoSize & 0xff;
  read[5] = w.vnet.gsoSize >>> 8;
  read[6] = w.vnet.csumStart;
  read[8] = w.vnet.csumOffset;
  read.set(w.ip, VNET_HDR_LEN);
  const out: Uint8Array[] = [];
  new GsoSplitter().split(read, 0, read.length, (b, o, l) => out.push(b.slice(o, o + l)));
  return out;
}

describe("GroCoalescer: merging", () => {
  for (const v6 of [false, true]) {
    const name = v6 ? "IPv6" : "IPv4";
    it(`${name}: contiguous segments with timestamps become one GSO packet`, () => {
      const segs = stream(10, { v6 });
      const { gro, out } = coalescer();
      feed(gro, segs);
      assert.equal(out.length, 0, "nothing is written before flush");
      gro.flush();
      assert.equal(out.length, 1);
      checkMerged(out[0]!, segs, v6);
      // Re-segmenting it gives back the original packets exactly (ids +1, checksums, flags).
      assert.deepEqual(resplit(out[0]!), segs);
      assert.equal(gro.stats.merged, 1);
      assert.equal(gro.stats.mergedSegments, 10);
    });

    it(`${name}: a shorter segment ends the run, and PSH ends it (carried to the merged packet)`, () => {
      const a = stream(3, { v6 });
      const short = buildPacket({ v6, options: OPTS, seq: 1000 + 3 * MSS, id: 4, payload: pattern(500, 9) });
      const b = stream(3, { v6 }, 1000 + 3 * MSS + 500);
      b[1] = buildPacket({ v6, options: OPTS, seq: 1000 + 3 * MSS + 500 + MSS, id: 2, flags: ACK | PSH, payload: pattern(MSS, 2) });
      const { gro, out } = coalescer();
      feed(gro, [...a, short, ...b]);
      assert.equal(out.length, 2, "both runs ended by themselves, before flush");
      gro.flush();
      assert.equal(out.length, 3);
      checkMerged(out[0]!, [...a, short], v6);
      checkMerged(out[1]!, b.slice(0, 2), v6);
      assert.equal(parse(out[1]!.ip).flags, ACK | PSH);
      assert.deepEqual(resplit(out[1]!), b.slice(0, 2));
      assert.deepEqual(out[2]!.ip, b[2], "a lone segment goes out untouched");
      assert.equal(out[2]!.vnet.gsoType, GSO_NONE);
      assert.equal(out[2]!.vnet.flags, 0);
    });
  }

  it("stays within 64 KiB: 50 segments become 45 + 5", () => {
    const segs = stream(50);
    const { gro, out } = coalescer();
    feed(gro, segs);
    gro.flush();
    assert.deepEqual(out.map((w) => w.ip.length), [52 + 45 * MSS, 52 + 5 * MSS]);
    assert.ok(out[0]!.ip.length <= 65535);
    checkMerged(out[0]!, segs.slice(0, 45), false);
    checkMerged(out[1]!, segs.slice(45), false);
  });

  it("honours a smaller maxLength", () => {
    const { gro, out } = coalescer(10_000);
    feed(gro, stream(10));
    gro.flush();
    assert.deepEqual(out.map((w) => (w.ip.length - 52) / MSS), [6, 4]);
  });
});

describe("GroCoalescer: what must not merge", () => {
  const cases: Array<[string, (second: PacketSpec) => PacketSpec]> = [
    ["a different flow (port)", (s) => ({ ...s, srcPort: 40001 })],
    ["a different destination", (s) => ({ ...s, dst: s.v6 ? new Uint8Array(16).fill(9) : new Uint8Array([10, 203, 0, 9]) })],
    ["a gap in seq", (s) => ({ ...s, seq: (s.seq ?? 0) + 1 })],
    ["a different ACK", (s) => ({ ...s, ack: 778 })],
    ["different TCP options", (s) => ({ ...s, options: tsOption(101, 200) })],
    ["a different window", (s) => ({ ...s, window: 503 })],
    ["a different TTL / hop limit", (s) => ({ ...s, ttl: 63 })],
    ["a different TOS / traffic class", (s) => ({ ...s, tos: 4 })],
    ["FIN", (s) => ({ ...s, flags: ACK | FIN })],
    ["CWR", (s) => ({ ...s, flags: ACK | CWR })],
    ["ECE on one only", (s) => ({ ...s, flags: ACK | ECE })],
    ["URG", (s) => ({ ...s, flags: ACK | URG })],
    ["RST", (s) => ({ ...s, flags: ACK | RST })],
    ["a longer segment after a shorter first", (s) => ({ ...s, payload: pattern(MSS + 1, 5) })],
  ];
  for (const [what, change] of cases) for (const v6 of [false, true]) {
    it(`${v6 ? "IPv6" : "IPv4"}: ${what}`, () => {
      const [first] = stream(1, { v6 });
      const second = buildPacket(change({ v6, options: OPTS, seq: 1000 + MSS, id: 2, payload: pattern(MSS, 2) }));
      const { gro, out } = coalescer();
      feed(gro, [first!, second]);
      gro.flush();
      assert.equal(out.length, 2);
      assert.deepEqual(out.map((w) => w.ip), [first, second]);
      assert.ok(out.every((w) => w.vnet.gsoType === GSO_NONE && w.vnet.flags === 0));
      assert.equal(gro.stats.merged, 0);
    });
  }

  it("a first segment with PSH stays alone", () => {
    const first = buildPacket({ options: OPTS, seq: 1000, flags: ACK | PSH, payload: pattern(MSS, 1) });
    const rest = stream(2, {}, 1000 + MSS);
    const { gro, out } = coalescer();
    feed(gro, [first, ...rest]);
    assert.equal(out.length, 1, "written at once: nothing can follow a PSH");
    gro.flush();
    assert.deepEqual(out[0]!.ip, first);
    checkMerged(out[1]!, rest, false);
  });

  it("shorter then longer: the short first segment stays alone", () => {
    const first = buildPacket({ options: OPTS, seq: 1000, payload: pattern(1000, 1) });
    const rest = stream(3, {}, 2000);
    const { gro, out } = coalescer();
    feed(gro, [first, ...rest]);
    gro.flush();
    assert.equal(out.length, 2);
    assert.deepEqual(out[0]!.ip, first);
    checkMerged(out[1]!, rest, false);
  });

  it("SYN, pure ACKs, UDP, IPv4 options and IPv6 extension headers pass through in order", () => {
    const syn = buildPacket({ flags: SYN, options: OPTS });
    const pureAck = buildPacket({ flags: ACK, options: OPTS });
    const udp = buildPacket({ proto: "udp", payload: pattern(1400) });
    const ipOpts = buildPacket({ ipOptions: new Uint8Array([1, 1, 1, 0]), options: OPTS, payload: pattern(MSS) });
    const ext = buildPacket({ v6: true, v6NextHeader: 60, options: OPTS, payload: pattern(MSS) });
    const run1 = stream(3);
    const run2 = stream(2, {}, 1000 + 3 * MSS);
    const input = [syn, ...run1, pureAck, udp, ...run2, ipOpts, ext];
    const { gro, out } = coalescer();
    feed(gro, input);
    gro.flush();
    assert.equal(out.length, 7);
    assert.deepEqual(out[0]!.ip, syn);
    checkMerged(out[1]!, run1, false);
    assert.deepEqual(out.slice(2, 4).map((w) => w.ip), [pureAck, udp]);
    checkMerged(out[4]!, run2, false);
    assert.deepEqual(out.slice(5).map((w) => w.ip), [ipOpts, ext]);
    assert.equal(gro.stats.packetsIn, input.length);
    assert.equal(gro.stats.packetsOut, 7);
  });

  it("flush with nothing pending writes nothing; a lone segment is written as it came", () => {
    const { gro, out } = coalescer();
    gro.flush();
    assert.equal(out.length, 0);
    const [one] = stream(1);
    feed(gro, [one!]);
    gro.flush();
    gro.flush();
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.ip, one);
  });
});

describe("split → coalesce → split", () => {
  for (const v6 of [false, true]) {
    it(`${v6 ? "IPv6" : "IPv4"}: a 64 KiB TSO read survives the round trip`, () => {
      const headers = (v6 ? 40 : 20) + 32;
      const payload = pattern(65535 - headers, 31);
      const pkt = buildPacket({ v6, seq: 0xfffff000, id: 7, flags: ACK | PSH, options: OPTS, payload, partial: true });
      const read = withVnet(pkt, { flags: VNET_F_NEEDS_CSUM, gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4, gsoSize: MSS, csumStart: v6 ? 40 : 20, csumOffset: 16 });
      const first: Uint8Array[] = [];
      const { gro, out } = coalescer();
      new GsoSplitter().split(read, 0, read.length, (b, o, l) => {
        first.push(b.slice(o, o + l));
        gro.add(b, o, l);
      });
      gro.flush();
      assert.equal(first.length, 46);
      assert.equal(out.length, 1, "the whole super-segment is rebuilt in one write");
      assert.deepEqual(out[0]!.ip.subarray(headers), payload);
      assert.deepEqual(resplit(out[0]!), first);
    });
  }
});
