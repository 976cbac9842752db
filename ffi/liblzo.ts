/**
 * The third C library vtunts may use: liblzo2, the LZO library vtund itself
 * links, for the `lzo` compression of the data path.
 *
 * The TypeScript LZO1X (src/compress/lzo1x.ts) produces the same bytes, but
 * the C code is several times faster per packet (1400 random bytes, Bun:
 * compress 1.4 against 6.2 µs, decompress 0.6 against 4.3 µs). liblzo2 is
 * optional: where it cannot be loaded (not installed, not Bun), the
 * TypeScript codec does the work.
 */

/** LZO1X compression and decompression between our buffers, in place of the TypeScript codec. */
export interface LibLzo {
  /**
   * `lzo1x_1_15_compress` of `src[srcAt, srcAt+length)` into `dst[dstAt…]`:
   * the compressed length, or a negative LZO error code. The caller makes sure
   * `dst` has room for `lzo1xWorstCase(length)` bytes (the C code does not check).
   */
  compress(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number;
  /**
   * `lzo1x_decompress_safe` of `src[srcAt, srcAt+length)` into
   * `dst[dstAt, dstAt+max)`: the decompressed length, or a negative LZO error
   * code (e.g. {@link LZO_E_OUTPUT_OVERRUN} when it would exceed `max`).
   */
  decompress(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number, max: number): number;
}

/** The file names tried. */
export const LIBLZO_NAMES = ["liblzo2.so.2", "liblzo2.so"];

/** Work memory `lzo1x_1_15_compress` needs: LZO1X_1_15_MEM_COMPRESS with 8-byte dictionary entries. */
export const LZO1X_1_15_MEM_COMPRESS = 32768 * 8;

/** liblzo2's error codes (lzoconf.h) that decompression of a bad frame returns. */
export const LZO_E_ERROR = -1;
export const LZO_E_INPUT_OVERRUN = -4;
export const LZO_E_OUTPUT_OVERRUN = -5;
export const LZO_E_LOOKBEHIND_OVERRUN = -6;
export const LZO_E_EOF_NOT_FOUND = -7;
export const LZO_E_INPUT_NOT_CONSUMED = -8;
