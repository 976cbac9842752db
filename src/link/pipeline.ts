/**
 * The chain of transformations a packet goes through between the device and
 * the wire: compress → encrypt on the way out, decrypt → decompress on the way
 * in (vtund's module order). Each stage writes into a buffer it is given; the
 * pipeline owns two scratch buffers and alternates between them, so nothing is
 * allocated per packet. With no stages the link skips the pipeline entirely.
 */
import { allocBytes, copyBytes } from "../bytes.ts";

/** One transformation of a frame body. */
export interface FrameStage {
  /** For logs, e.g. "zlib:9" or "aes128cbc". */
  readonly name: string;
  /** Most bytes `encode` may add to its input (padding, headers, incompressible data). */
  readonly overhead: number;
  /**
   * Transforms `src[srcAt, srcAt+length)` for sending into `dst` at `dstAt`;
   * returns the output length, or 0 to drop the packet. Throws to end the link.
   */
  encode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number;
  /** The inverse of `encode`, for received frames; 0 drops the frame. */
  decode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number;
  /**
   * True once when the last `decode` decided that the link must send a 1-byte
   * frame through the pipeline (vtund's cipher resync); absent = never.
   */
  takeDummyRequest?(): boolean;
  /** Frees native resources (e.g. zlib streams) at the end of the session. */
  close?(): void;
}

/** Size of each scratch buffer (the longest {@link Pipeline.decode} result): a 12-bit frame length plus room for stage overheads. */
export const SCRATCH_SIZE = 8192;

/** The stages of one session, applied in order. */
export class Pipeline {
  private readonly scratch = [allocBytes(SCRATCH_SIZE), allocBytes(SCRATCH_SIZE)] as const;
  /** The buffer holding the result of the last {@link decode}. */
  decoded: Uint8Array = this.scratch[0];

  constructor(readonly stages: readonly FrameStage[]) {}

  /** True when packets pass unchanged (and the link can skip copying). */
  get isEmpty(): boolean {
    return this.stages.length === 0;
  }

  /** Frees every stage's resources; the pipeline is not used afterwards. */
  close(): void {
    for (const s of this.stages) s.close?.();
  }

  /** True once when a stage asked for a 1-byte resync frame (see {@link FrameStage.takeDummyRequest}). */
  takeDummyRequest(): boolean {
    let wanted = false;
    for (const s of this.stages) if (s.takeDummyRequest?.()) wanted = true;
    return wanted;
  }

  /** Upper bound of the encoded size of a `length`-byte packet. */
  maxEncoded(length: number): number {
    return this.stages.reduce((n, s) => n + s.overhead, length);
  }

  /** Encodes `src[at, at+length)` into `dst[dstAt…]`; returns the frame body length (0 = drop). */
  encode(src: Uint8Array, at: number, length: number, dst: Uint8Array, dstAt: number): number {
    if (this.stages.length === 0) {
      copyBytes(src, at, length, dst, dstAt);
      return length;
    }
    let inBuf = src;
    let inAt = at;
    let n = length;
    for (let i = 0; i < this.stages.length && n > 0; i++) {
      const last = i === this.stages.length - 1;
      const outBuf = last ? dst : this.scratch[i % 2]!;
      const outAt = last ? dstAt : 0;
      n = this.stages[i]!.encode(inBuf, inAt, n, outBuf, outAt);
      inBuf = outBuf;
      inAt = outAt;
    }
    return n;
  }

  /** Decodes a received frame body; the packet is `decoded[0, result)` (0 = drop). */
  decode(src: Uint8Array, at: number, length: number): number {
    let inBuf = src;
    let inAt = at;
    let n = length;
    for (let i = this.stages.length - 1, k = 0; i >= 0 && n > 0; i--, k++) {
      const outBuf = this.scratch[k % 2]!;
      n = this.stages[i]!.decode(inBuf, inAt, n, outBuf, 0);
      inBuf = outBuf;
      inAt = 0;
    }
    if (this.stages.length === 0) {
      this.decoded = this.scratch[0];
      copyBytes(src, at, length, this.decoded, 0);
    } else {
      this.decoded = inBuf;
    }
    return n;
  }
}
