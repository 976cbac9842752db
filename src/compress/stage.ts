/**
 * vtund's compression modules as frame stages (first in the chain: compress
 * before encrypting on the way out, decompress last on the way in).
 *
 * zlib (`C<n>`): one deflate stream per direction for the whole session, each
 * frame is what `deflate(Z_SYNC_FLUSH)` produced for the packet (the first
 * starts with the zlib header `78 xx`, every one ends `00 00 ff ff`); received
 * frames go through one long-lived inflate. Any zlib error ends the link, and
 * so does a lost or reordered frame (the streams desync) — as in vtund. Runs
 * on node:zlib's native code, synchronously (see zlib_sync.ts).
 *
 * LZO (`L<n>`): every frame is compressed on its own, raw LZO1X without a
 * header. vtund compresses with LZO1X-999 at level 9 and LZO1X-1(15) below;
 * here every level compresses like liblzo2's `lzo1x_1_15_compress` — what
 * vtund sends at levels 1–8 — with liblzo2 itself where it is loaded
 * (ffi/liblzo.ts: several times faster), else with the TypeScript LZO1X-1
 * (lzo1x.ts), whose output is byte-identical. Level 9 frames are slightly
 * larger than vtund's LZO1X-999 ones (999 is a slow optimal parser), but any
 * LZO1X data is valid for the receiver, whose decompressor
 * (`lzo1x_decompress`) reads both.
 *
 * Decoded frames never exceed MAX_PACKET (2048) bytes: a frame that would
 * inflate beyond that throws, and nothing is allocated per packet.
 */
import { MAX_PACKET } from "../protocol/frame.ts";
import type { FrameStage } from "../link/pipeline.ts";
import { LZO1X_1_15_BITS, LzoError, type LzoErrorCode, Lzo1xWorkmem, lzo1xCompress, lzo1xDecompress, lzo1xWorstCase } from "./lzo1x.ts";
import { libLzo, type LibLzo } from "../../ffi/index.ts";
import {
  LZO_E_INPUT_NOT_CONSUMED,
  LZO_E_INPUT_OVERRUN,
  LZO_E_LOOKBEHIND_OVERRUN,
  LZO_E_OUTPUT_OVERRUN,
} from "../../ffi/liblzo.ts";
import { SyncZlibStream } from "./zlib_sync.ts";

/** The compression a session uses (SessionFlags.compress). */
export interface CompressConfig {
  method: "zlib" | "lzo";
  level: number;
}

/** A compression stage; `close` frees native state (zlib) when the session ends. */
export interface CompressStage extends FrameStage {
  close(): void;
}

/**
 * Most bytes deflate adds to a packet of up to 2048 bytes with a sync flush.
 * Reference zlib falls back to a stored block for incompressible data (at most
 * +12 bytes: block headers, the flush's empty stored block, the zlib header),
 * but the zlib in Bun 1.4 and Deno 2.9 at level 1 emits fixed-Huffman blocks
 * instead, up to 9 bits per byte (+126 bytes measured for 2048 random bytes);
 * so: an eighth of the largest packet, plus room for headers and the flush.
 */
const ZLIB_OVERHEAD = (MAX_PACKET >> 3) + 64;

function tooBig(method: string): Error {
  return new Error(`${method}: frame decompresses to more than ${MAX_PACKET} bytes`);
}

/** zlib at `level` (1..9), one stream per direction. */
export class ZlibStage implements CompressStage {
  readonly name: string;
  readonly overhead = ZLIB_OVERHEAD;
  private readonly deflater: SyncZlibStream;
  private readonly inflater: SyncZlibStream;

  constructor(readonly level: number) {
    this.name = `zlib:${level}`;
    this.deflater = SyncZlibStream.deflate(level);
    this.inflater = SyncZlibStream.inflate();
  }

  encode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const d = this.deflater;
    const n = d.run(src, srcAt, length, dst, dstAt, dst.length - dstAt);
    if (d.availOut === 0 || d.availIn !== 0) {
      throw new Error(`zlib: output buffer too small to compress a ${length}-byte packet (${dst.length - dstAt} bytes of room)`);
    }
    return n;
  }

  /** May write scratch bytes after the output, up to `dstAt + 2049` (Chromium's zlib does). */
  decode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const room = dst.length - dstAt;
    // One byte more than a packet may have: filling it means the frame is too big.
    const limit = Math.min(room, MAX_PACKET + 1);
    const i = this.inflater;
    const n = i.run(src, srcAt, length, dst, dstAt, limit);
    if (n > MAX_PACKET) throw tooBig("zlib");
    if (i.availOut === 0) throw new Error(`zlib: output buffer too small (${room} bytes) for a decompressed frame`);
    if (i.availIn !== 0) throw new Error(`zlib: ${i.availIn} bytes of the frame left over (the peer ended its deflate stream)`);
    return n;
  }

  close(): void {
    this.deflater.close();
    this.inflater.close();
  }
}

/** liblzo2's error codes for a bad frame, as the TypeScript decompressor names them. */
const LZO_ERRORS = new Map<number, LzoErrorCode>([
  [LZO_E_INPUT_OVERRUN, "input-overrun"],
  [LZO_E_OUTPUT_OVERRUN, "output-overrun"],
  [LZO_E_LOOKBEHIND_OVERRUN, "lookbehind-overrun"],
  [LZO_E_INPUT_NOT_CONSUMED, "input-not-consumed"],
]);

/** The error of a liblzo2 call that returned `rc` < 0, worded like the TypeScript codec's. */
function libLzoError(rc: number, what: string): LzoError {
  const code = LZO_ERRORS.get(rc) ?? "bad-argument";
  return new LzoError(code, `lzo1x: ${code === "bad-argument" ? what + " failed" : code.replaceAll("-", " ")} (liblzo2 error ${rc})`);
}

/** LZO1X at any level (all compress like `lzo1x_1_15_compress`); frames are independent. */
export class LzoStage implements CompressStage {
  readonly name: string;
  readonly overhead = lzo1xWorstCase(MAX_PACKET) - MAX_PACKET;
  /** Which codec runs: liblzo2 through FFI, or the TypeScript LZO1X. */
  readonly backend: "liblzo2" | "typescript";
  private readonly workmem = new Lzo1xWorkmem(LZO1X_1_15_BITS);

  /** `lib`: liblzo2 as loaded on this thread (default), or null for the TypeScript codec. */
  constructor(readonly level: number, private readonly lib: LibLzo | null = libLzo()) {
    this.name = `lzo:${level}`;
    this.backend = lib === null ? "typescript" : "liblzo2";
  }

  encode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    // The C compressor trusts its buffers: hand it only ranges that are there (always, from the link).
    const lib = this.lib;
    if (lib !== null && length > 0 && srcAt >= 0 && srcAt + length <= src.length && dstAt >= 0 && dst.length - dstAt >= lzo1xWorstCase(length)) {
      const n = lib.compress(src, srcAt, length, dst, dstAt);
      if (n < 0) throw libLzoError(n, "lzo1x_1_15_compress");
      return n;
    }
    return lzo1xCompress(src, srcAt, length, dst, dstAt, this.workmem);
  }

  decode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const max = Math.min(MAX_PACKET, dst.length - dstAt);
    try {
      const lib = this.lib;
      if (lib !== null && length > 0 && srcAt >= 0 && srcAt + length <= src.length && dstAt >= 0 && max >= 0) {
        const n = lib.decompress(src, srcAt, length, dst, dstAt, max);
        if (n < 0) throw libLzoError(n, "lzo1x_decompress_safe");
        return n;
      }
      return lzo1xDecompress(src, srcAt, length, dst, dstAt, max);
    } catch (e) {
      if (e instanceof LzoError) {
        if (e.code === "output-overrun" && max === MAX_PACKET) throw tooBig("lzo");
        throw new Error(`lzo: bad frame: ${e.message}`);
      }
      throw e;
    }
  }

  close(): void {}
}

/**
 * The stage for a session's compression; level 0 means 1, as in vtund. LZO
 * runs on liblzo2 when `loadLibLzo()` (ffi/index.ts) has loaded it on this
 * thread, else on the TypeScript codec.
 */
export function createCompressStage(c: CompressConfig): CompressStage {
  const level = c.level === 0 ? 1 : c.level;
  if (!Number.isInteger(level) || level < 0) throw new RangeError(`${c.method}: bad compression level ${c.level}`);
  if (c.method === "zlib") {
    if (level > 9) throw new RangeError(`zlib: compression level ${c.level} is out of range (1..9); vtund cannot use it either`);
    return new ZlibStage(level);
  }
  if (c.method === "lzo") return new LzoStage(level);
  throw new RangeError(`unknown compression method ${String((c as { method: unknown }).method)}`);
}
