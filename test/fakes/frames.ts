/**
 * vtun frames for transport and link tests: data frames as they go on the
 * wire, and a frame sink that writes down what it is handed.
 */
import { HEADER_SIZE, writeDataHeader } from "../../src/protocol/frame.ts";
import type { FrameSink } from "../../src/transport/transport.ts";

/** `body` as one data frame on the wire: its 2-byte header, then the body. */
export function dataFrame(body: Uint8Array): Uint8Array {
  const f = new Uint8Array(HEADER_SIZE + body.length);
  writeDataHeader(f, 0, body.length);
  f.set(body, HEADER_SIZE);
  return f;
}

/**
 * A {@link FrameSink} and the list it records into, in order: "length#first
 * body byte" for data, "control N" (hex) and "bad: reason".
 */
export function recordingSink(): { sink: FrameSink; seen: string[] } {
  const seen: string[] = [];
  const sink: FrameSink = {
    onData: (buf, off, len) => seen.push(`${len}#${buf[off]}`),
    onControl: (c) => seen.push(`control ${c.toString(16)}`),
    onBadFrame: (reason) => seen.push(`bad: ${reason}`),
  };
  return { sink, seen };
}
