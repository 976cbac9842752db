/**
 * vtun frames: a 2-byte big-endian header, then the body. The low 12 bits of
 * the header are the body length; the high 4 bits mark control frames, which
 * have no body. TCP sends frames back to back; UDP sends one per datagram.
 */

/** Mask of the length bits in a frame header (VTUN_FSIZE_MASK). */
export const LENGTH_MASK = 0x0fff;
/** Mask of the control bits in a frame header. */
export const CONTROL_MASK = 0xf000;
/** Control frame: the peer is closing the link (VTUN_CONN_CLOSE). */
export const CONN_CLOSE = 0x1000;
/** Control frame: keepalive request (VTUN_ECHO_REQ). */
export const ECHO_REQ = 0x2000;
/** Control frame: keepalive reply (VTUN_ECHO_REP). */
export const ECHO_REP = 0x4000;
/** Never sent; vtund's internal marker for a garbled frame (VTUN_BAD_FRAME). */
export const BAD_FRAME = 0x8000;

/** Size of the frame header in bytes. */
export const HEADER_SIZE = 2;
/** Largest packet read from the device (VTUN_FRAME_SIZE). */
export const MAX_PACKET = 2048;
/** Largest frame body a receiver accepts (VTUN_FRAME_SIZE + VTUN_FRAME_OVERHEAD). */
export const MAX_FRAME_BODY = 2148;
/**
 * Bytes before a packet that the idle path (Link.sendLonePacket,
 * Link.receiveLoneFrame) may overwrite: room for a frame header in front of
 * a packet read from the device, and for a virtio header in front of a frame
 * body received from the network, so that neither is copied.
 */
export const LONE_HEADROOM = 10;

/** Writes the header of a data frame with an `length`-byte body at `buf[at]`. */
export function writeDataHeader(buf: Uint8Array, at: number, length: number): void {
  buf[at] = length >>> 8;
  buf[at + 1] = length & 0xff;
}

/**
 * True when `size` bytes that start with frame header `header` are exactly
 * one data frame as vtund accepts it: not a control frame, the header gives
 * the rest's length, at most {@link MAX_FRAME_BODY}.
 */
export function isWholeDataFrame(header: number, size: number): boolean {
  if (header & CONTROL_MASK) return false;
  const length = bodyLength(header);
  return size - HEADER_SIZE === length && length <= MAX_FRAME_BODY;
}

/** Writes the header of a control frame (`CONN_CLOSE`, `ECHO_REQ`, `ECHO_REP`) at `buf[at]`. */
export function writeControlHeader(buf: Uint8Array, at: number, control: number): void {
  buf[at] = control >>> 8;
  buf[at + 1] = 0;
}

/** Reads the 16-bit header at `buf[at]`. */
export function readHeader(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

/** Length of the body that follows `header` on a stream: 0 for control frames. */
export function bodyLength(header: number): number {
  return header & CONTROL_MASK ? 0 : header & LENGTH_MASK;
}

/** Human name of a control value, for logs. */
export function controlName(control: number): string {
  switch (control) {
    case CONN_CLOSE: return "CONN_CLOSE";
    case ECHO_REQ: return "ECHO_REQ";
    case ECHO_REP: return "ECHO_REP";
    default: return `control 0x${control.toString(16)}`;
  }
}
