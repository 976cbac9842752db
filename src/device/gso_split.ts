/**
 * Transmit side of TUN offloads: turns one packet read from a TUN opened with
 * `IFF_VNET_HDR` (virtio_net_hdr + an IP packet of up to 64 KiB) into the
 * MSS-sized IP packets a peer without offloads expects — what a NIC does for
 * TSO/USO. The wire stays vtund-compatible: each segment becomes one frame.
 *
 * Segments are built in place, in the buffer the packet was read into: the
 * headers of segment k+1 are written over the last bytes of segment k's
 * payload, after segment k has been handed to the sink. So there is no copy
 * and no allocation per segment; the price is that the input is consumed.
 *
 * Every segment gets complete IP, TCP and UDP checksums: a real vtund peer
 * writes them to a TUN without offloads, so its kernel verifies them.
 */
import { checksum, fillL4Checksum, finishPartialChecksum, pseudoSumV4, pseudoSumV6, put16 } from "./checksum.ts";
import {
  emptyVnetHeader,
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  readVnetHeader,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
} from "./vnet_header.ts";

/**
 * Receives one IP packet at `buf[off, off+len)`. It must be consumed (sent,
 * copied) before returning: the next segment overwrites its tail. The sink
 * may modify the packet in place and may overwrite `buf[start, off)`, where
 * `start` is the offset given to {@link GsoSplitter.split} (at least the 10
 * bytes of the virtio header are there): room for a frame header in front.
 * It must not touch anything after `off + len` (the next segments' data).
 */
export type PacketSink = (buf: Uint8Array, off: number, len: number) => void;

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
// Longest IPv4 header (60) + longest TCP header (60).
const MAX_HEADERS = 120;

/** What the splitter did, and why it dropped what it dropped. */
export class SplitStats {
  /** Packets handed to {@link GsoSplitter.split}. */
  packets = 0;
  /** Of those, GSO packets that were segmented. */
  gsoPackets = 0;
  /** IP packets emitted (segments and pass-through packets). */
  segments = 0;
  /** Non-GSO packets whose partial checksum (NEEDS_CSUM) was finished. */
  checksumsFinished = 0;
  /** TCP packets cut into smaller segments than the kernel asked for, to respect {@link GsoSplitter.maxPacket}. */
  capped = 0;
  /** Dropped: shorter than its headers, or its IP length exceeds what was read (truncated read). */
  dropMalformed = 0;
  /** Dropped: GSO IPv6 packet whose next header is not TCP/UDP (extension headers are not supported). */
  dropIpv6ExtHeader = 0;
  /** Dropped: gso_type we do not segment (legacy UFO, unknown), or one that disagrees with the packet. */
  dropUnsupportedGso = 0;

  /** Total packets dropped. */
  get dropped(): number {
    return this.dropMalformed + this.dropIpv6ExtHeader + this.dropUnsupportedGso;
  }

  /** "3 malformed, 1 ipv6-ext-header", or "" when nothing was dropped. */
  dropSummary(): string {
    const parts: string[] = [];
    if (this.dropMalformed) parts.push(`${this.dropMalformed} malformed`);
    if (this.dropIpv6ExtHeader) parts.push(`${this.dropIpv6ExtHeader} ipv6-ext-header`);
    if (this.dropUnsupportedGso) parts.push(`${this.dropUnsupportedGso} unsupported-gso`);
    return parts.join(", ");
  }
}

/** Smallest segment payload {@link GsoSplitter.maxPacket} may impose; a tighter limit is ignored. */
export const MIN_CAPPED_PAYLOAD = 536;

/** Segments GSO packets from an offloading TUN. One instance per data path; it keeps no state between packets. */
export class GsoSplitter {
  /** Counters, for logs and tests. */
  readonly stats = new SplitStats();
  /**
   * Longest TCP packet to emit (0 = no limit): TCP segments are made smaller
   * than the kernel's MSS, and plain TCP packets longer than this are split
   * too, so that each fits one unfragmented datagram of a UDP tunnel (the
   * TUN's MTU does not know about the tunnel's own headers). Smaller TCP
   * segments are legal; other protocols cannot be re-segmented and keep
   * their size.
   */
  maxPacket = 0;
  private readonly hdr = emptyVnetHeader();
  // A copy of the original headers: the in-place segments overwrite them, and
  // the sink may change an emitted segment, so later headers never come from one.
  private readonly template = new Uint8Array(MAX_HEADERS);

  /**
   * The IP length of the read at `buf[off, off+len)` (virtio header first)
   * when it is one packet to send as it is: no segmentation offload, not a
   * TCP packet over {@link maxPacket}. A partial checksum (a pure ACK, a
   * small UDP packet) is finished in place, as `split` does. 0 when the read
   * needs `split` (which also drops what is malformed). Not counted in
   * {@link stats}: this is the idle path's test, and it touches nothing it
   * need not.
   */
  wholePacket(buf: Uint8Array, off: number, len: number): number {
    if (len <= VNET_HDR_LEN || (buf[off + 1]! & ~GSO_ECN) !== GSO_NONE) return 0;
    const ip = off + VNET_HDR_LEN;
    const ipLen = len - VNET_HDR_LEN;
    if (this.maxPacket > 0 && ipLen > this.maxPacket && unfragmentedTcpVersion(buf, ip, ipLen) !== 0) return 0;
    if ((buf[off]! & VNET_F_NEEDS_CSUM) !== 0) {
      const csumStart = buf[off + 6]! | (buf[off + 7]! << 8);
      const csumOffset = buf[off + 8]! | (buf[off + 9]! << 8);
      // Out of range leaves the packet as it was: split() drops it as malformed.
      if (!finishPartialChecksum(buf, ip, ipLen, csumStart, csumOffset)) return 0;
    }
    return ipLen;
  }

  /**
   * Splits the packet at `buf[off, off+len)` (virtio header first) and hands
   * each resulting IP packet to `emit`, in order. A non-GSO packet is passed
   * through (its partial checksum finished if NEEDS_CSUM), unless it is TCP
   * and longer than {@link maxPacket}. Returns the number
   * of packets emitted; 0 means it was dropped (see {@link stats}). The
   * contents of `buf[off, off+len)` are undefined afterwards.
   */
  split(buf: Uint8Array, off: number, len: number, emit: PacketSink): number {
    const st = this.stats;
    st.packets++;
    const whole = this.wholePacket(buf, off, len);
    if (whole > 0) {
      if (buf[off]! & VNET_F_NEEDS_CSUM) st.checksumsFinished++;
      st.segments++;
      emit(buf, off + VNET_HDR_LEN, whole);
      return 1;
    }
    if (len < VNET_HDR_LEN + 1) return this.malformed();
    const h = readVnetHeader(buf, off, this.hdr);
    const ip = off + VNET_HDR_LEN;
    let ipLen = len - VNET_HDR_LEN;
    let type = h.gsoType;
    let gsoSize = h.gsoSize;

    // A plain TCP packet over maxPacket is cut down like a TSO one (see maxPacket).
    const plainTcp = type === GSO_NONE && this.maxPacket > 0 && ipLen > this.maxPacket ? unfragmentedTcpVersion(buf, ip, ipLen) : 0;
    if (plainTcp !== 0) {
      type = plainTcp === 4 ? GSO_TCPV4 : GSO_TCPV6;
      gsoSize = ipLen;
    } else if (type === GSO_NONE) {
      // Not a whole packet (above), not cut down: its partial checksum lies outside it.
      return this.malformed();
    }

    // Header lengths come from the packet itself: hdr_len is advisory and
    // differs between kernels (some report only up to the L4 header start).
    const version = buf[ip]! >>> 4;
    let ipHdr: number;
    let proto: number;
    if (version === 4) {
      if (ipLen < 20) return this.malformed();
      ipHdr = (buf[ip]! & 0x0f) << 2;
      proto = buf[ip + 9]!;
      const total = (buf[ip + 2]! << 8) | buf[ip + 3]!;
      if (ipHdr < 20 || total < ipHdr || total > ipLen) return this.malformed();
      ipLen = total;
    } else if (version === 6) {
      if (ipLen < 40) return this.malformed();
      ipHdr = 40;
      proto = buf[ip + 6]!;
      if (proto !== PROTO_TCP && proto !== PROTO_UDP) {
        st.dropIpv6ExtHeader++;
        return 0;
      }
      const total = 40 + ((buf[ip + 4]! << 8) | buf[ip + 5]!);
      if (total > ipLen) return this.malformed();
      ipLen = total;
    } else {
      return this.malformed();
    }

    const tcp = proto === PROTO_TCP;
    const typeFits = type === GSO_TCPV4
      ? version === 4 && tcp
      : type === GSO_TCPV6
      ? version === 6 && tcp
      : type === GSO_UDP_L4 && proto === PROTO_UDP;
    if (!typeFits) {
      st.dropUnsupportedGso++;
      return 0;
    }

    let l4Hdr = 8;
    if (tcp) {
      if (ipLen < ipHdr + 20) return this.malformed();
      l4Hdr = (buf[ip + ipHdr + 12]! >>> 4) << 2;
      if (l4Hdr < 20) return this.malformed();
    }
    const headers = ipHdr + l4Hdr;
    let mss = gsoSize;
    if (ipLen < headers || mss === 0) return this.malformed();
    if (tcp && this.maxPacket > 0 && headers + mss > this.maxPacket && this.maxPacket - headers >= MIN_CAPPED_PAYLOAD) {
      mss = this.maxPacket - headers;
      st.capped++;
    }
    const payload = ipLen - headers;
    const count = payload === 0 ? 1 : Math.ceil(payload / mss);

    const t = this.template;
    for (let i = 0; i < headers; i++) t[i] = buf[ip + i]!;
    const v4 = version === 4;
    const id0 = v4 ? (t[4]! << 8) | t[5]! : 0;
    const seq0 = tcp ? ((t[ipHdr + 4]! << 24) | (t[ipHdr + 5]! << 16) | (t[ipHdr + 6]! << 8) | t[ipHdr + 7]!) >>> 0 : 0;
    const flags0 = tcp ? t[ipHdr + 13]! : 0;
    const pseudo = v4 ? pseudoSumV4(t, 0, proto, 0) : pseudoSumV6(t, 0, proto, 0);
    const last = count - 1;

    st.gsoPackets++;
    for (let s = 0; s < count; s++) {
      const at = ip + s * mss; // segment s's headers end where its payload starts
      const segPayload = s === last ? payload - s * mss : mss;
      const segLen = headers + segPayload;
      if (s > 0) for (let i = 0; i < headers; i++) buf[at + i] = t[i]!;
      if (v4) {
        put16(buf, at + 2, segLen);
        put16(buf, at + 4, (id0 + s) & 0xffff);
        buf[at + 10] = 0;
        buf[at + 11] = 0;
        put16(buf, at + 10, checksum(buf, at, ipHdr));
      } else {
        put16(buf, at + 4, segLen - 40);
      }
      const l4 = at + ipHdr;
      const l4Len = segLen - ipHdr;
      if (tcp) {
        const seq = (seq0 + s * mss) >>> 0;
        buf[l4 + 4] = seq >>> 24;
        buf[l4 + 5] = (seq >>> 16) & 0xff;
        buf[l4 + 6] = (seq >>> 8) & 0xff;
        buf[l4 + 7] = seq & 0xff;
        let f = flags0;
        if (s !== last) f &= ~(TCP_FIN | TCP_PSH);
        if (s !== 0) f &= ~TCP_CWR;
        buf[l4 + 13] = f;
        fillL4Checksum(buf, l4, l4Len, 16, pseudo + l4Len);
      } else {
        put16(buf, l4 + 4, l4Len);
        fillL4Checksum(buf, l4, l4Len, 6, pseudo + l4Len);
      }
      st.segments++;
      emit(buf, at, segLen);
    }
    return count;
  }

  private malformed(): number {
    this.stats.dropMalformed++;
    return 0;
  }
}

/** 4 or 6 if `buf[ip, ip+len)` is a TCP packet that is not an IPv4 fragment (IPv6: TCP right after the fixed header), else 0. */
function unfragmentedTcpVersion(buf: Uint8Array, ip: number, len: number): number {
  const version = buf[ip]! >>> 4;
  if (version === 4) {
    return len >= 40 && buf[ip + 9] === PROTO_TCP && ((buf[ip + 6]! & 0x3f) | buf[ip + 7]!) === 0 ? 4 : 0;
  }
  return version === 6 && len >= 60 && buf[ip + 6] === PROTO_TCP ? 6 : 0;
}
