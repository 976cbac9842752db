/**
 * LZO1X in TypeScript: a safe decompressor (the equivalent of liblzo2's
 * `lzo1x_decompress_safe`) and the LZO1X-1 compressor (`lzo1x_1_compress`
 * with its 14-bit dictionary, or `lzo1x_1_15_compress` with a 13-bit one).
 *
 * The format, as the decompressor reads it. Each instruction starts with one
 * byte `t`; the two low bits of the last distance byte of a match (the
 * "state") say how many literals (0–3) follow that match without an
 * instruction of their own.
 * - first byte > 17: `t - 17` literals (if < 4, they are the state literals).
 * - `t` < 16 after a match with state 0 (or at the start): a run of `t + 3`
 *   literals; `t == 0` means `18 + 255·(zero bytes) + next byte` literals.
 * - `t` < 16 right after such a run: a 3-byte match at distance
 *   `2049 + (t >> 2) + (next << 2)`.
 * - `t` < 16 after state literals: a 2-byte match (M1) at distance
 *   `1 + (t >> 2) + (next << 2)`.
 * - `t` >= 64 (M2): length `(t >> 5) + 1`, distance `1 + ((t >> 2) & 7) + (next << 3)`.
 * - 32 <= `t` < 64 (M3): length `(t & 31) + 2` (0 → extended like literal runs,
 *   base 33), then a little-endian 16-bit word: distance `1 + (word >> 2)`.
 * - 16 <= `t` < 32 (M4): length `(t & 7) + 2` (0 → extended, base 9), then a
 *   16-bit word: distance `16384 + ((t & 8) << 11) + (word >> 2)`; distance
 *   16384 exactly is the end marker (`11 00 00`).
 *
 * The compressor follows liblzo2 2.10's `lzo1x_1_compress` step by step
 * (multiplicative hash of the next 4 bytes into a 2^14-entry (or 2^13)
 * dictionary of last positions, literal skipping that speeds up on
 * incompressible data, greedy matches extended 8 bytes at a time as the
 * 64-bit build does, input cut into 49152-byte blocks), so its output is
 * byte-identical to the C library's on x86-64 (lzo1x_liblzo_test.ts checks
 * this). Levels of effort do not exist in LZO1X-1; the slow optimal
 * LZO1X-999 is not implemented (its output is only a little smaller).
 * The C code clears the dictionary for every block; here each block instead
 * gets a fresh range of position tags (an "epoch"), and a tag from an earlier
 * block reads as position 0 — exactly what a cleared entry means in C — so a
 * reused {@link Lzo1xWorkmem} costs nothing per call.
 */

/** Why {@link lzo1xDecompress} or {@link lzo1xCompress} refused its input. */
export type LzoErrorCode =
  | "input-overrun" // the data ends in the middle of an instruction (LZO_E_INPUT_OVERRUN)
  | "output-overrun" // the output would not fit (LZO_E_OUTPUT_OVERRUN)
  | "lookbehind-overrun" // a match points before the start of the output (LZO_E_LOOKBEHIND_OVERRUN)
  | "input-not-consumed" // bytes follow the end marker (LZO_E_INPUT_NOT_CONSUMED)
  | "bad-argument"; // offsets, lengths or buffers out of range

/** An LZO1X error; `code` tells which. */
export class LzoError extends Error {
  constructor(
    readonly code: LzoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "LzoError";
  }
}

/** Largest output of {@link lzo1xCompress} for `length` input bytes (liblzo2's bound). */
export function lzo1xWorstCase(length: number): number {
  return length + (length >>> 4) + 64 + 3;
}

/** Dictionary bits of LZO1X-1 (`lzo1x_1_compress`). */
export const LZO1X_1_BITS = 14;
/**
 * Dictionary bits of liblzo2's `lzo1x_1_15_compress` ("LZO1X-1(15)", what
 * vtund uses below level 9): despite the name, liblzo2 2.x builds it with a
 * 13-bit dictionary of 16-bit offsets wherever unaligned 32-bit loads are
 * available (x86, ARM…), so that is what matches its output.
 */
export const LZO1X_1_15_BITS = 13;

/** Largest block the compressor hashes at once (liblzo2's; keeps every distance ≤ 0xbfff). */
const BLOCK = 49152;
const M2_MAX_LEN = 8;
const M3_MAX_LEN = 33;
const M4_MAX_LEN = 9;
const M2_MAX_OFFSET = 0x0800;
const M3_MAX_OFFSET = 0x4000;
const M3_MARKER = 32;
const M4_MARKER = 16;
/** Largest tag before the epochs start over. */
const TAG_LIMIT = 0xffffffff;

/**
 * The compressor's dictionary ("work memory"): a hash table of recent input
 * positions. Allocate one per compressing stream and pass it to every
 * {@link lzo1xCompress} call; it holds no data between calls that matters
 * for the output.
 */
export class Lzo1xWorkmem {
  /** Position tags, see {@link Lzo1xWorkmem.takeEpoch}. */
  readonly dict: Uint32Array;
  /** First tag of the next block. */
  private nextEpoch = 1;

  constructor(readonly bits: number = LZO1X_1_BITS) {
    if (!Number.isInteger(bits) || bits < 10 || bits > 16) {
      throw new LzoError("bad-argument", `lzo1x: dictionary bits must be 10..16, not ${bits}`);
    }
    this.dict = new Uint32Array(1 << bits);
  }

  /**
   * Tags for a block of `length` bytes: the block stores `epoch + position`;
   * any entry below `epoch` comes from an earlier block and reads as 0.
   */
  takeEpoch(length: number): number {
    let epoch = this.nextEpoch;
    if (epoch + length > TAG_LIMIT) {
      this.dict.fill(0);
      epoch = 1;
    }
    this.nextEpoch = epoch + length;
    return epoch;
  }
}

function checkRange(buf: Uint8Array, at: number, length: number, what: string): void {
  if (!Number.isInteger(at) || !Number.isInteger(length) || at < 0 || length < 0 || at + length > buf.length) {
    throw new LzoError("bad-argument", `lzo1x: ${what} range [${at}, ${at}+${length}) is outside its ${buf.length}-byte buffer`);
  }
}

/**
 * Compresses `src[srcAt, srcAt+length)` with LZO1X-1 into `dst` at `dstAt`
 * and returns the compressed length. `dst` must have room for
 * {@link lzo1xWorstCase}`(length)` bytes from `dstAt` (checked up front).
 * The dictionary size of `workmem` picks LZO1X-1 (14 bits, the default) or
 * LZO1X-1(15); without `workmem` a temporary one is allocated.
 */
export function lzo1xCompress(
  src: Uint8Array,
  srcAt: number,
  length: number,
  dst: Uint8Array,
  dstAt: number,
  workmem?: Lzo1xWorkmem,
): number {
  checkRange(src, srcAt, length, "input");
  const need = lzo1xWorstCase(length);
  if (!Number.isInteger(dstAt) || dstAt < 0 || dst.length - dstAt < need) {
    throw new LzoError("bad-argument", `lzo1x: output buffer too small: ${length} input bytes need room for ${need} at offset ${dstAt} of ${dst.length}`);
  }
  const wm = workmem ?? new Lzo1xWorkmem();
  const dict = wm.dict;
  const shift = 32 - wm.bits;
  const mask = (1 << wm.bits) - 1;

  let op = dstAt;
  let blockAt = srcAt; // `in` of do_compress
  let left = length;
  let t = 0; // literals not yet written (they end at blockAt)

  while (left > 20) {
    const ll = left < BLOCK ? left : BLOCK;
    // liblzo2's pointer-overflow guard, which in effect leaves blocks with
    // fewer than 32 bytes (pending literals included) as one literal run.
    if ((t + ll) >>> 5 === 0) break;
    const epoch = wm.takeEpoch(ll);
    // ---- do_compress(blockAt, ll, ti = t) ----
    const inEnd = blockAt + ll;
    const ipEnd = inEnd - 20;
    let ti = t;
    let ii = blockAt;
    let ip = blockAt + (ti < 4 ? 4 - ti : 0);
    ip += 1 + ((ip - ii) >> 5);
    while (ip < ipEnd) {
      const dv = src[ip]! | (src[ip + 1]! << 8) | (src[ip + 2]! << 16) | (src[ip + 3]! << 24);
      const dindex = (Math.imul(dv, 0x1824429d) >>> shift) & mask;
      const tag = dict[dindex]!;
      const mPos = blockAt + (tag >= epoch ? tag - epoch : 0);
      dict[dindex] = epoch + (ip - blockAt);
      if (dv !== (src[mPos]! | (src[mPos + 1]! << 8) | (src[mPos + 2]! << 16) | (src[mPos + 3]! << 24))) {
        // A literal: skip ahead faster the longer the literal run gets.
        ip += 1 + ((ip - ii) >> 5);
        continue;
      }
      // A match: first the literals before it.
      ii -= ti;
      ti = 0;
      let lit = ip - ii;
      if (lit !== 0) {
        if (lit <= 3) {
          dst[op - 2]! |= lit;
        } else if (lit <= 18) {
          dst[op++] = lit - 3;
        } else {
          let tt = lit - 18;
          dst[op++] = 0;
          while (tt > 255) {
            tt -= 255;
            dst[op++] = 0;
          }
          dst[op++] = tt;
        }
        while (lit-- > 0) dst[op++] = src[ii++]!;
      }
      // Match length: 4 bytes known equal; then 8 at a time like the 64-bit C build.
      let mLen = 4;
      let k = 0;
      while (k < 8 && src[ip + mLen + k] === src[mPos + mLen + k]) k++;
      while (k === 8) {
        mLen += 8;
        k = 0;
        while (k < 8 && src[ip + mLen + k] === src[mPos + mLen + k]) k++;
        if (ip + mLen >= ipEnd) {
          k = 0;
          break;
        }
      }
      mLen += k;
      let mOff = ip - mPos;
      ip += mLen;
      ii = ip;
      if (mLen <= M2_MAX_LEN && mOff <= M2_MAX_OFFSET) {
        mOff -= 1;
        dst[op++] = ((mLen - 1) << 5) | ((mOff & 7) << 2);
        dst[op++] = mOff >>> 3;
      } else {
        if (mOff <= M3_MAX_OFFSET) {
          mOff -= 1;
          if (mLen <= M3_MAX_LEN) {
            dst[op++] = M3_MARKER | (mLen - 2);
          } else {
            mLen -= M3_MAX_LEN;
            dst[op++] = M3_MARKER;
            while (mLen > 255) {
              mLen -= 255;
              dst[op++] = 0;
            }
            dst[op++] = mLen;
          }
        } else {
          mOff -= 0x4000;
          if (mLen <= M4_MAX_LEN) {
            dst[op++] = M4_MARKER | ((mOff >>> 11) & 8) | (mLen - 2);
          } else {
            mLen -= M4_MAX_LEN;
            dst[op++] = M4_MARKER | ((mOff >>> 11) & 8);
            while (mLen > 255) {
              mLen -= 255;
              dst[op++] = 0;
            }
            dst[op++] = mLen;
          }
        }
        dst[op++] = (mOff << 2) & 0xff;
        dst[op++] = (mOff >>> 6) & 0xff;
      }
    }
    t = inEnd - (ii - ti);
    // ---- end of do_compress ----
    blockAt += ll;
    left -= ll;
  }
  t += left;

  if (t > 0) {
    let ii = srcAt + length - t;
    if (op === dstAt && t <= 238) {
      dst[op++] = 17 + t;
    } else if (t <= 3) {
      dst[op - 2]! |= t;
    } else if (t <= 18) {
      dst[op++] = t - 3;
    } else {
      let tt = t - 18;
      dst[op++] = 0;
      while (tt > 255) {
        tt -= 255;
        dst[op++] = 0;
      }
      dst[op++] = tt;
    }
    while (t-- > 0) dst[op++] = src[ii++]!;
  }
  // End marker: an M4 match at distance 16384.
  dst[op++] = M4_MARKER | 1;
  dst[op++] = 0;
  dst[op++] = 0;
  return op - dstAt;
}

/* Decompressor states (the labels of lzo1x_d.ch). */
const S_INSTRUCTION = 0; // read an instruction after a match with state 0 (a literal run or a match)
const S_AFTER_RUN = 1; // read the instruction after a literal run of 4 or more
const S_MATCH = 2; // decode the match whose first byte is in `t`
const S_STATE_LITERALS = 3; // copy `t` (1–3) literals, then a match instruction follows

function inputOverrun(): LzoError {
  return new LzoError("input-overrun", "lzo1x: input overrun (the data is truncated or corrupt)");
}
function outputOverrun(max: number): LzoError {
  return new LzoError("output-overrun", `lzo1x: output overrun (the data decompresses to more than ${max} bytes)`);
}
function lookbehindOverrun(): LzoError {
  return new LzoError("lookbehind-overrun", "lzo1x: lookbehind overrun (a match points before the start of the output)");
}

/**
 * Decompresses the LZO1X data `src[srcAt, srcAt+length)` into `dst` at
 * `dstAt`, writing at most `dstMax` bytes, and returns the decompressed
 * length. Every read and write is bounds-checked: truncated, corrupt or
 * oversized input throws an {@link LzoError} (like `lzo1x_decompress_safe`'s
 * error codes), as do bytes after the end marker.
 */
export function lzo1xDecompress(
  src: Uint8Array,
  srcAt: number,
  length: number,
  dst: Uint8Array,
  dstAt: number,
  dstMax: number,
): number {
  checkRange(src, srcAt, length, "input");
  checkRange(dst, dstAt, dstMax, "output");
  const ipEnd = srcAt + length;
  const opEnd = dstAt + dstMax;
  let ip = srcAt;
  let op = dstAt;
  let t = 0;
  let state: number;
  let mPos = 0;

  if (ip >= ipEnd) throw inputOverrun();
  if (src[ip]! > 17) {
    t = src[ip++]! - 17;
    if (t < 4) {
      state = S_STATE_LITERALS;
    } else {
      if (op + t > opEnd) throw outputOverrun(dstMax);
      if (ip + t > ipEnd) throw inputOverrun();
      while (t-- > 0) dst[op++] = src[ip++]!;
      state = S_AFTER_RUN;
    }
  } else {
    state = S_INSTRUCTION;
  }

  for (;;) {
    if (state === S_INSTRUCTION) {
      if (ip >= ipEnd) throw inputOverrun();
      t = src[ip++]!;
      if (t >= 16) {
        state = S_MATCH;
        continue;
      }
      if (t === 0) {
        for (;;) {
          if (ip >= ipEnd) throw inputOverrun();
          const b = src[ip++]!;
          if (b !== 0) {
            t += 15 + b;
            break;
          }
          t += 255;
          if (t > dstMax) throw outputOverrun(dstMax);
        }
      }
      t += 3;
      if (op + t > opEnd) throw outputOverrun(dstMax);
      if (ip + t > ipEnd) throw inputOverrun();
      while (t-- > 0) dst[op++] = src[ip++]!;
      state = S_AFTER_RUN;
      continue;
    }

    if (state === S_AFTER_RUN) {
      if (ip >= ipEnd) throw inputOverrun();
      t = src[ip++]!;
      if (t >= 16) {
        state = S_MATCH;
        continue;
      }
      // A 3-byte match beyond the M2 range.
      if (ip >= ipEnd) throw inputOverrun();
      mPos = op - (1 + M2_MAX_OFFSET) - (t >> 2) - (src[ip++]! << 2);
      if (mPos < dstAt) throw lookbehindOverrun();
      if (op + 3 > opEnd) throw outputOverrun(dstMax);
      dst[op++] = dst[mPos++]!;
      dst[op++] = dst[mPos++]!;
      dst[op++] = dst[mPos]!;
    } else if (state === S_STATE_LITERALS) {
      if (op + t > opEnd) throw outputOverrun(dstMax);
      if (ip + t + 1 > ipEnd) throw inputOverrun();
      while (t-- > 0) dst[op++] = src[ip++]!;
      t = src[ip++]!;
      state = S_MATCH;
      continue;
    } else {
      // S_MATCH: `t` is the instruction byte.
      if (t >= 64) {
        // M2
        if (ip >= ipEnd) throw inputOverrun();
        mPos = op - 1 - ((t >> 2) & 7) - (src[ip++]! << 3);
        t = (t >> 5) - 1;
      } else if (t >= 32) {
        // M3
        t &= 31;
        if (t === 0) {
          for (;;) {
            if (ip >= ipEnd) throw inputOverrun();
            const b = src[ip++]!;
            if (b !== 0) {
              t += 31 + b;
              break;
            }
            t += 255;
            if (t > dstMax) throw outputOverrun(dstMax);
          }
        }
        if (ip + 2 > ipEnd) throw inputOverrun();
        mPos = op - 1 - ((src[ip]! | (src[ip + 1]! << 8)) >> 2);
        ip += 2;
      } else if (t >= 16) {
        // M4, or the end marker
        mPos = op - ((t & 8) << 11);
        t &= 7;
        if (t === 0) {
          for (;;) {
            if (ip >= ipEnd) throw inputOverrun();
            const b = src[ip++]!;
            if (b !== 0) {
              t += 7 + b;
              break;
            }
            t += 255;
            if (t > dstMax) throw outputOverrun(dstMax);
          }
        }
        if (ip + 2 > ipEnd) throw inputOverrun();
        mPos -= (src[ip]! | (src[ip + 1]! << 8)) >> 2;
        ip += 2;
        if (mPos === op) {
          if (ip !== ipEnd) {
            throw new LzoError("input-not-consumed", `lzo1x: ${ipEnd - ip} bytes after the end marker`);
          }
          return op - dstAt;
        }
        mPos -= 0x4000;
      } else {
        // M1: a 2-byte match right after state literals.
        if (ip >= ipEnd) throw inputOverrun();
        mPos = op - 1 - (t >> 2) - (src[ip++]! << 2);
        if (mPos < dstAt) throw lookbehindOverrun();
        if (op + 2 > opEnd) throw outputOverrun(dstMax);
        dst[op++] = dst[mPos++]!;
        dst[op++] = dst[mPos]!;
        t = -1; // handled; fall through to the state bits below
      }
      if (t >= 0) {
        if (mPos < dstAt) throw lookbehindOverrun();
        t += 2;
        if (op + t > opEnd) throw outputOverrun(dstMax);
        // Byte by byte: the source may overlap what is being written.
        while (t-- > 0) dst[op++] = dst[mPos++]!;
      }
    }
    // After a match: the state bits give 0–3 literals that follow it.
    t = src[ip - 2]! & 3;
    state = t === 0 ? S_INSTRUCTION : S_STATE_LITERALS;
  }
}
