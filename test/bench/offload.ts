/**
 * Throughput of the offload data path in this runtime: GSO split (with full
 * checksums) and GRO coalescing of 64 KiB TCP super-segments, 1448-byte MSS.
 * Run: node_modules/.bin/bun test/bench/offload.ts
 */
import { buildPacket, pattern, tsOption, withVnet } from "../fakes/packets.ts";
import { GroCoalescer } from "../../src/device/gro_coalesce.ts";
import { GsoSplitter } from "../../src/device/gso_split.ts";
import { onesSum } from "../../src/device/checksum.ts";
import { GSO_TCPV4, GSO_TCPV6, VNET_F_NEEDS_CSUM } from "../../src/device/vnet_header.ts";

const MSS = 1448;

/** ms of CPU time this process used (stable on a shared machine, unlike wall time). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Best of three runs of ~0.5 s CPU time each. */
function measure(label: string, bytesPerRound: number, round: () => void): void {
  for (let i = 0; i < 300; i++) round(); // warm up the JIT
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    let rounds = 0;
    const t0 = cpuMs();
    let t = t0;
    while (t - t0 < 500) {
      for (let i = 0; i < 50; i++) round();
      rounds += 50;
      t = cpuMs();
    }
    best = Math.min(best, (t - t0) / rounds);
  }
  const mbs = bytesPerRound / 1e3 / best;
  console.log(`${label.padEnd(48)} ${mbs.toFixed(0).padStart(6)} MB/s  (${((mbs * 8) / 1000).toFixed(1)} Gbit/s, ${(best * 1000).toFixed(1)} µs per 64 KiB)`);
}

for (const v6 of [false, true]) {
  const name = v6 ? "IPv6" : "IPv4";
  const headers = (v6 ? 40 : 20) + 32;
  const payload = pattern(65535 - headers, 5);
  const pkt = buildPacket({ v6, seq: 1, flags: 0x18, options: tsOption(1, 2), payload, partial: true });
  const master = withVnet(pkt, { flags: VNET_F_NEEDS_CSUM, gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4, gsoSize: MSS, csumStart: v6 ? 40 : 20, csumOffset: 16 });
  const buf = new Uint8Array(master.length);
  const splitter = new GsoSplitter();
  let segs = 0;
  const count = () => void segs++;
  // The splitter consumes its input: restore it each round (a memcpy, ~2% of the time).
  measure(`${name} split + checksums (in place)`, payload.length, () => {
    buf.set(master);
    splitter.split(buf, 0, buf.length, count);
  });
  const wire = new Uint8Array(70_000);
  measure(`${name} split + copy each segment to a send buffer`, payload.length, () => {
    buf.set(master);
    let at = 0;
    splitter.split(buf, 0, buf.length, (b, o, l) => {
      wire.set(b.subarray(o, o + l), at);
      at += l;
    });
  });

  // Coalescer input: the split segments, back to back, as a transport would hold them.
  const segments: Array<[number, number]> = [];
  const stream = new Uint8Array(70_000);
  buf.set(master);
  let at = 0;
  splitter.split(buf, 0, buf.length, (b, o, l) => {
    stream.set(b.subarray(o, o + l), at);
    segments.push([at, l]);
    at += l;
  });
  let written = 0;
  const gro = new GroCoalescer((_b, _o, l) => void (written += l));
  measure(`${name} coalesce`, payload.length, () => {
    for (const [o, l] of segments) gro.add(stream, o, l);
    gro.flush();
  });
}

const big = pattern(65536, 9);
measure("onesSum over 64 KiB", 65536, () => void onesSum(big, 0, 65536));
