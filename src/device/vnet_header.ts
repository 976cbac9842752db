/**
 * The 10-byte `struct virtio_net_hdr` that precedes every packet on a TUN
 * opened with `IFF_VNET_HDR` (and `TUNSETVNETHDRSZ` 10). Little-endian on the
 * architectures we run on (legacy virtio uses host order; x86_64 and arm64
 * are little-endian):
 *
 *     flags u8 @0, gso_type u8 @1, hdr_len u16 @2, gso_size u16 @4,
 *     csum_start u16 @6, csum_offset u16 @8
 */

/** Size of `struct virtio_net_hdr` (without `num_buffers`). */
export const VNET_HDR_LEN = 10;

/** flags: the checksum from `csum_start` to the end is partial and must be finished (VIRTIO_NET_HDR_F_NEEDS_CSUM). */
export const VNET_F_NEEDS_CSUM = 1;
/** flags: the checksum was already validated (VIRTIO_NET_HDR_F_DATA_VALID); informational on receive. */
export const VNET_F_DATA_VALID = 2;

/** gso_type: a single packet. */
export const GSO_NONE = 0;
/** gso_type: an IPv4 TCP super-segment (TSO4). */
export const GSO_TCPV4 = 1;
/**
 * gso_type: legacy UDP fragmentation offload (UFO): one large datagram to be
 * IP-fragmented. Linux stopped producing it (4.14); USO uses {@link GSO_UDP_L4}.
 */
export const GSO_UDP = 3;
/** gso_type: an IPv6 TCP super-segment (TSO6). */
export const GSO_TCPV6 = 4;
/** gso_type: UDP segmentation offload (USO4/USO6): split into separate datagrams (VIRTIO_NET_HDR_GSO_UDP_L4). */
export const GSO_UDP_L4 = 5;
/** gso_type bit: the TCP super-segment carries CWR (TSO_ECN); masked out of the type. */
export const GSO_ECN = 0x80;

/** A decoded virtio_net_hdr. Reuse one instance (see {@link readVnetHeader}) on the data path. */
export interface VnetHeader {
  /** VNET_F_* bits. */
  flags: number;
  /** GSO_* type with the ECN bit masked out. */
  gsoType: number;
  /** Whether the ECN bit was set in gso_type. */
  ecn: boolean;
  /** Length of the headers (advisory: derive lengths from the packet instead). */
  hdrLen: number;
  /** Payload bytes per segment (the MSS) for GSO packets. */
  gsoSize: number;
  /** Where checksumming starts, from the start of the packet (after this header). */
  csumStart: number;
  /** Where the checksum is stored, from `csumStart`. */
  csumOffset: number;
}

/** A zeroed header object to pass to {@link readVnetHeader}. */
export function emptyVnetHeader(): VnetHeader {
  return { flags: 0, gsoType: GSO_NONE, ecn: false, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Decodes the header at `buf[at]` into `out` (no allocation) and returns it. */
export function readVnetHeader(buf: Uint8Array, at: number, out: VnetHeader): VnetHeader {
  const type = buf[at + 1]!;
  out.flags = buf[at]!;
  out.gsoType = type & ~GSO_ECN;
  out.ecn = (type & GSO_ECN) !== 0;
  out.hdrLen = buf[at + 2]! | (buf[at + 3]! << 8);
  out.gsoSize = buf[at + 4]! | (buf[at + 5]! << 8);
  out.csumStart = buf[at + 6]! | (buf[at + 7]! << 8);
  out.csumOffset = buf[at + 8]! | (buf[at + 9]! << 8);
  return out;
}

/** Encodes `h` at `buf[at]` (the ECN flag is folded back into gso_type). */
export function writeVnetHeader(buf: Uint8Array, at: number, h: VnetHeader): void {
  writeVnetFields(buf, at, h.flags, h.gsoType | (h.ecn ? GSO_ECN : 0), h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset);
}

/** Encodes a header from its raw fields (no object needed on the data path). */
export function writeVnetFields(
  buf: Uint8Array,
  at: number,
  flags: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
): void {
  buf[at] = flags;
  buf[at + 1] = gsoType;
  buf[at + 2] = hdrLen & 0xff;
  buf[at + 3] = hdrLen >>> 8;
  buf[at + 4] = gsoSize & 0xff;
  buf[at + 5] = gsoSize >>> 8;
  buf[at + 6] = csumStart & 0xff;
  buf[at + 7] = csumStart >>> 8;
  buf[at + 8] = csumOffset & 0xff;
  buf[at + 9] = csumOffset >>> 8;
}

/** Writes an all-zero header (a plain packet, checksums complete) at `buf[at]`. */
export function writeZeroVnetHeader(buf: Uint8Array, at: number): void {
  // A loop, not fill(): it runs once per small packet, where a runtime call costs most (see bytes.ts).
  for (let i = 0; i < VNET_HDR_LEN; i++) buf[at + i] = 0;
}
