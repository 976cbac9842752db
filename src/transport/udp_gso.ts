/**
 * vtun frames in batched UDP sends and receives, with the wire unchanged (one
 * frame per datagram, as vtund):
 *
 * - Send: frames queued back to back go out as UDP GSO runs (`UDP_SEGMENT`):
 *   the kernel cuts one send into datagrams of `gso_size` bytes, all equal
 *   but the last, which may be shorter. {@link gsoRunEnd} finds such runs.
 * - Receive: with `UDP_GRO` the kernel hands over several equal-size
 *   datagrams (the last may be shorter) as one buffer. Each frame carries its
 *   length, so {@link deliverDatagrams} splits the buffer without the
 *   segment-size cmsg: the first frame's size is the segment size, and a
 *   layout no GRO could have produced is reported and dropped.
 */
import { bodyLength, CONTROL_MASK, HEADER_SIZE, isWholeDataFrame, readHeader } from "../protocol/frame.ts";
import type { FrameSink } from "./transport.ts";

/** Most datagrams the kernel takes in one GSO send (UDP_MAX_SEGMENTS before Linux 6.10). */
export const GSO_MAX_SEGMENTS = 64;
/** Most bytes in one GSO send: the UDP length field's limit minus the headers, rounded down. */
export const GSO_MAX_BYTES = 65000;

/** Size on the wire (header + body) of the frame at `buf[at]`: 2 for a control frame. */
export function frameSize(buf: Uint8Array, at: number): number {
  const header = readHeader(buf, at);
  return header & CONTROL_MASK ? HEADER_SIZE : HEADER_SIZE + bodyLength(header);
}

/**
 * End of the GSO run that starts at `start` among the well-formed frames in
 * `buf[start, end)`: the frames that can go out in one send with `gso_size`
 * = the first frame's size — equal-size frames, then at most one shorter
 * frame, which ends the run — within `maxSegments` and `maxBytes`. A run of
 * one frame is an ordinary datagram.
 */
export function gsoRunEnd(buf: Uint8Array, start: number, end: number, maxSegments: number, maxBytes: number): number {
  const seg = frameSize(buf, start);
  let at = start + seg;
  for (let n = 1; n < maxSegments && at < end; n++) {
    const size = frameSize(buf, at);
    if (size > seg || at + size - start > maxBytes) break;
    at += size;
    if (size < seg) break;
  }
  return at;
}

/**
 * Hands the frames in a received buffer `buf[start, start+length)` to `sink`. Without
 * `coalesced` the buffer is one datagram and must hold exactly one frame
 * (vtund's rule). With it (a socket with `UDP_GRO`) it may hold several
 * datagrams: every frame as long as the first, but a shorter last one. At the
 * first frame that breaks that layout the rest of the buffer is reported as
 * a bad frame and dropped: its datagram boundaries are unknown.
 */
export function deliverDatagrams(buf: Uint8Array, length: number, coalesced: boolean, sink: FrameSink, start = 0): void {
  if (length < HEADER_SIZE) {
    sink.onBadFrame(`datagram of ${length} bytes`);
    return;
  }
  if (!coalesced) {
    deliverOne(buf, start, length, sink);
    return;
  }
  const seg = frameSize(buf, start);
  let at = 0;
  while (at < length) {
    const left = length - at;
    const size = left < HEADER_SIZE ? -1 : frameSize(buf, start + at);
    if (size < 0 || size > left || size > seg || (size < seg && size !== left)) {
      sink.onBadFrame(`received ${length} bytes (coalesced datagrams) that do not split into ${seg}-byte frames at byte ${at}`);
      return;
    }
    deliverOne(buf, start + at, size, sink);
    at += size;
  }
}

/** One datagram's frame: `buf[at, at+size)`, checked against its header. */
function deliverOne(buf: Uint8Array, at: number, size: number, sink: FrameSink): void {
  const header = readHeader(buf, at);
  if (header & CONTROL_MASK) {
    if (size !== HEADER_SIZE) sink.onBadFrame(`control datagram of ${size} bytes`);
    else sink.onControl(header & CONTROL_MASK);
    return;
  }
  const length = bodyLength(header);
  if (!isWholeDataFrame(header, size)) {
    sink.onBadFrame(`datagram of ${size} bytes with a header for ${length}`);
    return;
  }
  if (length > 0) sink.onData(buf, at + HEADER_SIZE, length);
}
