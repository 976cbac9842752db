/**
 * A frame stage for link tests: it appends `extra` bytes of its own
 * (0xa0, 0xa1, …) and on the way back drops a frame whose trailer is not
 * those bytes, so a test sees both the added length and a stage's refusal.
 */
import type { FrameStage } from "../../src/link/pipeline.ts";

/** A stage that appends `extra` known bytes and checks them when decoding. */
export function trailerStage(extra: number): FrameStage {
  return {
    name: "trailer",
    overhead: extra,
    encode(src, at, n, dst, dstAt) {
      dst.set(src.subarray(at, at + n), dstAt);
      for (let i = 0; i < extra; i++) dst[dstAt + n + i] = 0xa0 + i;
      return n + extra;
    },
    decode(src, at, n, dst, dstAt) {
      for (let i = 0; i < extra; i++) if (src[at + n - extra + i] !== 0xa0 + i) return 0;
      dst.set(src.subarray(at, at + n - extra), dstAt);
      return n - extra;
    },
  };
}
