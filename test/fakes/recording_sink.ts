/**
 * A frame sink for transport tests that writes down what it is handed, in
 * order: "length#first body byte" for data, "control N" (hex) and "bad: reason".
 */
import type { FrameSink } from "../../src/transport/transport.ts";

/** A {@link FrameSink} and the list it records into. */
export function recordingSink(): { sink: FrameSink; seen: string[] } {
  const seen: string[] = [];
  const sink: FrameSink = {
    onData: (buf, off, len) => seen.push(`${len}#${buf[off]}`),
    onControl: (c) => seen.push(`control ${c.toString(16)}`),
    onBadFrame: (reason) => seen.push(`bad: ${reason}`),
  };
  return { sink, seen };
}
