/**
 * Receive side of TUN offloads: merges runs of consecutive TCP segments of one
 * flow, as they arrive from the peer, into one GSO packet for a TUN opened
 * with `IFF_VNET_HDR` + TSO — one device write instead of up to ~45. This is
 * the GRO a NIC driver would do; the kernel re-segments if it has to forward.
 *
 * Only the conservative case is merged (the rules of Linux's tcp_gro_receive,
 * a little stricter): same addresses, ports, ACK, window, TCP options, TOS/TTL
 * /DF (IPv4) or traffic class/flow label/hop limit (IPv6), contiguous
 * sequence numbers, only ACK (and ECE) set, IPv4 without options and IPv6
 * without extension headers, every segment as long as the first except a
 * shorter last one; a shorter segment or PSH ends the run. Everything else is
 * passed through unchanged behind an all-zero virtio header, in order.
 *
 * The link feeds every packet of one socket read batch through {@link
 * GroCoalescer.add} and calls {@link GroCoalescer.flush} after the batch, so
 * merging never delays a packet beyond the batch it arrived in.
 *
 * The peer's per-segment checksums are not verified before merging: the
 * merged packet carries NEEDS_CSUM, which the receiving kernel trusts. The
 * tunnel's own transport (TCP, or UDP checksums) already protects the bytes.
 */
import { fold, fixIpv4HeaderChecksum, pseudoSumV4, pseudoSumV6, put16 } from "./checksum.ts";
import type { PacketSink } from "./gso_split.ts";
import { GSO_TCPV4, GSO_TCPV6, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, writeVnetFields, writeZeroVnetHeader } from "./vnet_header.ts";
import { allocBytes, copyBytes } from "../bytes.ts";

/** Largest IP packet we build or pass through (IPv4 total length limit). */
export const MAX_COALESCED = 65535;

const PROTO_TCP = 6;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
// SYN, FIN, RST, URG and CWR: segments carrying these are never merged.
const TCP_NO_MERGE = 0x01 | 0x02 | 0x04 | 0x20 | 0x80;

/** What the coalescer did. */
export class CoalesceStats {
  /** Packets handed to {@link GroCoalescer.add}. */
  packetsIn = 0;
  /** Packets written to the device (merged runs and pass-through packets). */
  packetsOut = 0;
  /** GSO packets built from two or more segments. */
  merged = 0;
  /** Segments that went into those merged packets. */
  mergedSegments = 0;
  /** Packets dropped because they were longer than {@link MAX_COALESCED}. */
  dropOversize = 0;
}

/** Merges TCP segment runs into GSO packets with a virtio header; preallocated buffers only. */
export class GroCoalescer {
  /** Counters, for logs and tests. */
  readonly stats = new CoalesceStats();
  // The run being built: virtio header room, then the first segment's headers
  // and every merged payload.
  private readonly run = allocBytes(VNET_HDR_LEN + MAX_COALESCED);
  // Pass-through packets get their (zero) virtio header here.
  private readonly single = allocBytes(VNET_HDR_LEN + MAX_COALESCED);
  private segs = 0; //     segments in the run (0 = none)
  private runLen = 0; //   IP bytes in the run
  private v4 = false;
  private ipHdr = 0;
  private headers = 0; //  IP + TCP header bytes
  private gsoSize = 0; //  the first segment's payload length
  private nextSeq = 0; //  sequence number the next segment must carry
  private psh = false; //  the last merged segment had PSH
  // Fields of the packet being classified (set by candidate()).
  private cIpHdr = 0;
  private cHeaders = 0;
  private cFlags = 0;

  /**
   * @param sink receives each packet to write to the device, virtio header
   *   first; it must consume it before returning (the buffer is reused).
   * @param maxLength the largest merged IP packet (at most {@link MAX_COALESCED}).
   */
  constructor(private readonly sink: PacketSink, private readonly maxLength = MAX_COALESCED) {
    if (maxLength > MAX_COALESCED) throw new RangeError(`GroCoalescer: maxLength ${maxLength} > ${MAX_COALESCED}`);
  }

  /**
   * Takes one IP packet from the peer (copied: the caller's buffer may be
   * reused as soon as this returns). It joins the current run, starts a new
   * one, or — after the run is written out — goes to the sink as it is.
   */
  add(pkt: Uint8Array, off: number, len: number): void {
    this.stats.packetsIn++;
    if (len > MAX_COALESCED) {
      this.stats.dropOversize++;
      return;
    }
    if (!this.candidate(pkt, off, len)) {
      this.flush();
      this.passThrough(pkt, off, len);
      return;
    }
    const payload = len - this.cHeaders;
    if (this.segs > 0 && this.joins(pkt, off, payload)) {
      copyBytes(pkt, off + this.cHeaders, payload, this.run, VNET_HDR_LEN + this.runLen);
      this.runLen += payload;
      this.segs++;
      this.nextSeq = (this.nextSeq + payload) >>> 0;
      this.psh = (this.cFlags & TCP_PSH) !== 0;
      if (payload < this.gsoSize || this.psh) this.flush();
      return;
    }
    this.flush();
    this.start(pkt, off, len, payload);
    if (this.psh) this.flush();
  }

  /** Writes out the run being built, if any. Call after every socket read batch. */
  flush(): void {
    const n = this.segs;
    if (n === 0) return;
    this.segs = 0;
    const b = this.run;
    const ip = VNET_HDR_LEN;
    const total = this.runLen;
    if (n === 1) {
      // A lone segment goes out untouched, with its own full checksum.
      writeZeroVnetHeader(b, 0);
    } else {
      const tcp = ip + this.ipHdr;
      const l4Len = total - this.ipHdr;
      let pseudo: number;
      if (this.v4) {
        put16(b, ip + 2, total);
        fixIpv4HeaderChecksum(b, ip, this.ipHdr);
        pseudo = pseudoSumV4(b, ip, PROTO_TCP, l4Len);
      } else {
        put16(b, ip + 4, l4Len);
        pseudo = pseudoSumV6(b, ip, PROTO_TCP, l4Len);
      }
      if (this.psh) b[tcp + 13] = b[tcp + 13]! | TCP_PSH;
      // CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header
      // sum, not complemented; the kernel adds the rest if it ever needs it.
      put16(b, tcp + 16, fold(pseudo));
      writeVnetFields(b, 0, VNET_F_NEEDS_CSUM, this.v4 ? GSO_TCPV4 : GSO_TCPV6, this.headers, this.gsoSize, this.ipHdr, 16);
      this.stats.merged++;
      this.stats.mergedSegments += n;
    }
    this.stats.packetsOut++;
    this.sink(b, 0, VNET_HDR_LEN + total);
  }

  /** Is this a TCP data segment we may merge? Sets cIpHdr, cHeaders, cFlags. */
  private candidate(p: Uint8Array, o: number, len: number): boolean {
    if (len < 40) return false;
    const version = p[o]! >>> 4;
    let ipHdr: number;
    if (version === 4) {
      if (
        p[o] !== 0x45 || // options would have to match too; rare, not worth it
        p[o + 9] !== PROTO_TCP ||
        ((p[o + 2]! << 8) | p[o + 3]!) !== len ||
        ((p[o + 6]! & 0x3f) | p[o + 7]!) !== 0 // MF or a fragment offset
      ) return false;
      ipHdr = 20;
    } else if (version === 6) {
      if (len < 60 || p[o + 6] !== PROTO_TCP || ((p[o + 4]! << 8) | p[o + 5]!) !== len - 40) return false;
      ipHdr = 40;
    } else {
      return false;
    }
    const thl = (p[o + ipHdr + 12]! >>> 4) << 2;
    const flags = p[o + ipHdr + 13]!;
    if (thl < 20 || ipHdr + thl >= len || (flags & TCP_NO_MERGE) !== 0 || (flags & TCP_ACK) === 0) return false;
    this.cIpHdr = ipHdr;
    this.cHeaders = ipHdr + thl;
    this.cFlags = flags;
    return true;
  }

  /** Does the candidate continue the current run? */
  private joins(p: Uint8Array, o: number, payload: number): boolean {
    if (this.cHeaders !== this.headers || this.cIpHdr !== this.ipHdr) return false;
    if (payload > this.gsoSize || this.runLen + payload > this.maxLength) return false;
    const r = this.run;
    const ip = VNET_HDR_LEN;
    if (this.v4) {
      // TOS, flags/DF, TTL, protocol, addresses (ID, length, checksum may differ).
      if (p[o + 1] !== r[ip + 1] || p[o + 6] !== r[ip + 6] || p[o + 8] !== r[ip + 8]) return false;
      for (let i = 12; i < 20; i++) if (p[o + i] !== r[ip + i]) return false;
    } else {
      // Version/traffic class/flow label, hop limit, addresses.
      for (let i = 0; i < 4; i++) if (p[o + i] !== r[ip + i]) return false;
      if (p[o + 7] !== r[ip + 7]) return false;
      for (let i = 8; i < 40; i++) if (p[o + i] !== r[ip + i]) return false;
    }
    const t = o + this.ipHdr;
    const rt = ip + this.ipHdr;
    const seq = ((p[t + 4]! << 24) | (p[t + 5]! << 16) | (p[t + 6]! << 8) | p[t + 7]!) >>> 0;
    if (seq !== this.nextSeq) return false;
    // Ports, then ACK, data offset, flags (PSH may be added), window; then options.
    for (let i = 0; i < 4; i++) if (p[t + i] !== r[rt + i]) return false;
    for (let i = 8; i < 13; i++) if (p[t + i] !== r[rt + i]) return false;
    if ((p[t + 13]! & ~TCP_PSH) !== r[rt + 13]) return false;
    if (p[t + 14] !== r[rt + 14] || p[t + 15] !== r[rt + 15]) return false;
    const end = this.headers - this.ipHdr;
    for (let i = 20; i < end; i++) if (p[t + i] !== r[rt + i]) return false;
    return true;
  }

  /** Makes the candidate the first segment of a new run. */
  private start(p: Uint8Array, o: number, len: number, payload: number): void {
    copyBytes(p, o, len, this.run, VNET_HDR_LEN);
    this.segs = 1;
    this.runLen = len;
    this.v4 = this.cIpHdr === 20;
    this.ipHdr = this.cIpHdr;
    this.headers = this.cHeaders;
    this.gsoSize = payload;
    const t = o + this.cIpHdr;
    const seq = ((p[t + 4]! << 24) | (p[t + 5]! << 16) | (p[t + 6]! << 8) | p[t + 7]!) >>> 0;
    this.nextSeq = (seq + payload) >>> 0;
    this.psh = (this.cFlags & TCP_PSH) !== 0;
  }

  private passThrough(p: Uint8Array, o: number, len: number): void {
    const b = this.single;
    writeZeroVnetHeader(b, 0);
    copyBytes(p, o, len, b, VNET_HDR_LEN);
    this.stats.packetsOut++;
    this.sink(b, 0, VNET_HDR_LEN + len);
  }
}
