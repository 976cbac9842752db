/**
 * Hand-built IPv4/IPv6 TCP and UDP packets for the offload tests, and an
 * independent, deliberately naive checksum to verify what the data path
 * produces (it shares no code with src/device/checksum.ts).
 */

/** Naive RFC 1071 sum: big-endian byte pairs, folded at the end. */
export function refSum(bytes: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function set16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

function set32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** Sum of the pseudo header of the IP packet `p` for an L4 part of `l4Len` bytes. */
export function refPseudo(p: Uint8Array, proto: number, l4Len: number): number {
  const v4 = p[0]! >>> 4 === 4;
  const addrs = v4 ? p.subarray(12, 20) : p.subarray(8, 40);
  return refSum(addrs) + proto + l4Len;
}

/** TCP flag bits. */
export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80;

/** A TCP timestamps option block (NOP NOP TS val ecr), 12 bytes. */
export function tsOption(val: number, ecr: number): Uint8Array {
  const o = new Uint8Array(12);
  o[0] = 1;
  o[1] = 1;
  o[2] = 8;
  o[3] = 10;
  set32(o, 4, val);
  set32(o, 8, ecr);
  return o;
}

/** Fields of a hand-built packet; anything unset gets a plausible default. */
export interface PacketSpec {
  v6?: boolean;
  proto?: "tcp" | "udp";
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: Uint8Array;
  payload?: Uint8Array;
  id?: number;
  ttl?: number;
  tos?: number;
  /** Extra IPv4 header option bytes (multiple of 4). */
  ipOptions?: Uint8Array;
  /** IPv6 next header to use instead of TCP/UDP (the L4 part then follows as if it were one). */
  v6NextHeader?: number;
  /** Leave the L4 checksum field holding the folded pseudo-header sum (a NEEDS_CSUM packet). */
  partial?: boolean;
  /** Write this IP total length (IPv4) / payload length (IPv6) instead of the real one. */
  lengthField?: number;
  src?: Uint8Array;
  dst?: Uint8Array;
}

const SRC4 = new Uint8Array([10, 203, 0, 1]);
const DST4 = new Uint8Array([10, 203, 0, 2]);
const SRC6 = new Uint8Array([0xfd, 0, 0x02, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const DST6 = new Uint8Array([0xfd, 0, 0x02, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

/** Builds an IPv4 or IPv6 TCP/UDP packet with correct checksums (unless `partial`). */
export function buildPacket(spec: PacketSpec): Uint8Array {
  const v6 = spec.v6 ?? false;
  const tcp = (spec.proto ?? "tcp") === "tcp";
  const proto = tcp ? 6 : 17;
  const options = spec.options ?? new Uint8Array(0);
  const ipOpts = spec.ipOptions ?? new Uint8Array(0);
  const payload = spec.payload ?? new Uint8Array(0);
  const ipHdr = v6 ? 40 : 20 + ipOpts.length;
  const l4Hdr = tcp ? 20 + options.length : 8;
  const total = ipHdr + l4Hdr + payload.length;
  const p = new Uint8Array(total);
  if (v6) {
    p[0] = 0x60 | ((spec.tos ?? 0) >>> 4);
    p[1] = ((spec.tos ?? 0) & 0x0f) << 4;
    set16(p, 4, spec.lengthField ?? total - 40);
    p[6] = spec.v6NextHeader ?? proto;
    p[7] = spec.ttl ?? 64;
    p.set(spec.src ?? SRC6, 8);
    p.set(spec.dst ?? DST6, 24);
  } else {
    p[0] = 0x40 | (ipHdr >>> 2);
    p[1] = spec.tos ?? 0;
    set16(p, 2, spec.lengthField ?? total);
    set16(p, 4, spec.id ?? 0x1234);
    p[6] = 0x40; // DF
    p[8] = spec.ttl ?? 64;
    p[9] = proto;
    p.set(spec.src ?? SRC4, 12);
    p.set(spec.dst ?? DST4, 16);
    p.set(ipOpts, 20);
    set16(p, 10, ~refSum(p.subarray(0, ipHdr)) & 0xffff);
  }
  const l4 = ipHdr;
  set16(p, l4, spec.srcPort ?? 40000);
  set16(p, l4 + 2, spec.dstPort ?? 5201);
  if (tcp) {
    set32(p, l4 + 4, spec.seq ?? 1000);
    set32(p, l4 + 8, spec.ack ?? 777);
    p[l4 + 12] = (l4Hdr >>> 2) << 4;
    p[l4 + 13] = spec.flags ?? ACK;
    set16(p, l4 + 14, spec.window ?? 502);
    p.set(options, l4 + 20);
  } else {
    set16(p, l4 + 4, l4Hdr + payload.length);
  }
  p.set(payload, l4 + l4Hdr);
  const field = l4 + (tcp ? 16 : 6);
  const l4Len = total - ipHdr;
  const pseudo = refPseudo(p, proto, l4Len);
  if (spec.partial) {
    set16(p, field, refSum(new Uint8Array(0), pseudo));
  } else {
    set16(p, field, ~refSum(p.subarray(l4), pseudo) & 0xffff || (tcp ? 0 : 0xffff));
  }
  return p;
}

/** Deterministic pseudo-random bytes. */
export function pattern(length: number, seed = 1): Uint8Array {
  const b = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Virtio header fields for {@link withVnet}. */
export interface VnetSpec {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}

/** `lead` spare bytes, a virtio header, then `pkt`: what a TUN read with IFF_VNET_HDR yields. */
export function withVnet(pkt: Uint8Array, h: VnetSpec, lead = 0, capacityExtra = 0): Uint8Array {
  const b = new Uint8Array(lead + 10 + pkt.length + capacityExtra);
  const at = lead;
  b[at] = h.flags ?? 0;
  b[at + 1] = h.gsoType ?? 0;
  b[at + 2] = (h.hdrLen ?? 0) & 0xff;
  b[at + 3] = (h.hdrLen ?? 0) >>> 8;
  b[at + 4] = (h.gsoSize ?? 0) & 0xff;
  b[at + 5] = (h.gsoSize ?? 0) >>> 8;
  b[at + 6] = (h.csumStart ?? 0) & 0xff;
  b[at + 7] = (h.csumStart ?? 0) >>> 8;
  b[at + 8] = (h.csumOffset ?? 0) & 0xff;
  b[at + 9] = (h.csumOffset ?? 0) >>> 8;
  b.set(pkt, at + 10);
  return b;
}

/** Parsed view of an IP packet, for assertions. */
export interface Parsed {
  v6: boolean;
  ipHdr: number;
  proto: number;
  totalField: number;
  id: number;
  l4: number;
  l4Hdr: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  udpLength: number;
  payload: Uint8Array;
  /** IPv4 header checksum verifies (always true for IPv6). */
  ipChecksumOk: boolean;
  /** The full TCP/UDP checksum verifies. */
  l4ChecksumOk: boolean;
  /** The raw L4 checksum field. */
  l4Field: number;
}

/** Parses and verifies an IP packet (a copy is taken). */
export function parse(pkt: Uint8Array): Parsed {
  const p = pkt.slice();
  const v6 = p[0]! >>> 4 === 6;
  const ipHdr = v6 ? 40 : (p[0]! & 15) * 4;
  const proto = v6 ? p[6]! : p[9]!;
  const tcp = proto === 6;
  const l4 = ipHdr;
  const l4Hdr = tcp ? (p[l4 + 12]! >>> 4) * 4 : 8;
  const l4Len = p.length - ipHdr;
  return {
    v6,
    ipHdr,
    proto,
    totalField: v6 ? u16(p, 4) : u16(p, 2),
    id: v6 ? 0 : u16(p, 4),
    l4,
    l4Hdr,
    srcPort: u16(p, l4),
    dstPort: u16(p, l4 + 2),
    seq: tcp ? u32(p, l4 + 4) : 0,
    ack: tcp ? u32(p, l4 + 8) : 0,
    flags: tcp ? p[l4 + 13]! : 0,
    udpLength: tcp ? 0 : u16(p, l4 + 4),
    payload: p.subarray(l4 + l4Hdr),
    ipChecksumOk: v6 || refSum(p.subarray(0, ipHdr)) === 0xffff,
    l4ChecksumOk: refSum(p.subarray(l4), refPseudo(p, proto, l4Len)) === 0xffff,
    l4Field: u16(p, l4 + (tcp ? 16 : 6)),
  };
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
