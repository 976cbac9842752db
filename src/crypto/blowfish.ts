/**
 * Blowfish block cipher (Schneier 1993), in TypeScript.
 *
 * vtund authenticates with Blowfish-ECB, and Deno and Node's OpenSSL 3 have no
 * Blowfish without the legacy provider, so vtunts carries its own. Checked
 * against Eric Young's published test vectors (see blowfish_test.ts).
 *
 * Two paths: per block ({@link Blowfish.encryptBlock}) and in bulk
 * ({@link Blowfish.encryptEcbInto}, {@link Blowfish.chainEncryptInto}), which
 * the mode contexts of modes.ts use; bulk ECB is about twice as fast as the
 * per-block path, and 1.75 times as fast as Bun's native bf-ecb (see
 * {@link ecbWords} for why, and engine.ts for the numbers).
 */
import { P_INIT, S_INIT } from "./blowfish_tables.ts";
import { type BlowfishSchedule, wasmEcb } from "./blowfish_wasm.ts";
import { ViewCache } from "./modes.ts";
import { detectRuntime } from "../../ffi/index.ts";

/**
 * Bun's JSC runs bulk ECB fastest from four module-level S-box tables (see
 * {@link ecbWordsFromBoxes}); V8 (Deno, Node) runs it fastest from the
 * instance's own table. Decided once per thread.
 */
const ECB_FROM_MODULE_BOXES = detectRuntime() === "bun";

/** Blowfish with an expanded key; encrypts and decrypts 8-byte blocks (big-endian words). */
export class Blowfish {
  /** Always 8. */
  readonly blockSize = 8;
  // Words are kept as int32 (not uint32): JIT compilers then keep all the
  // round arithmetic in integer registers instead of falling back to doubles
  // for words of 2^31 and up (Uint32Array tables measured 1.35 times slower in
  // JSC, the same in V8). Only the bit patterns matter.
  /** P-array in encryption order. */
  private readonly pe = new Int32Array(18);
  /** P-array reversed: Blowfish decryption is encryption with P reversed. */
  private readonly pd = new Int32Array(18);
  /**
   * The four S-boxes back to back (S1 at 256, S2 at 512, S3 at 768): fewer
   * live registers than four arrays, which measured faster once four blocks
   * share the loop.
   */
  private readonly s = new Int32Array(1024);
  /** The key schedule as blowfish_wasm.ts loads it into an arena. */
  private readonly schedule: BlowfishSchedule = { s: this.s, pe: this.pe, pd: this.pd };
  // DataViews for the bulk paths, one per role so that src and dst buffers do not evict each other.
  private readonly srcViews = new ViewCache();
  private readonly dstViews = new ViewCache();

  /** Expands `key` (1 to 72 bytes; vtund uses 16 or 32). */
  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 72) {
      throw new RangeError(`blowfish: key length ${key.length} is not within 1..72 bytes`);
    }
    const p = this.pe;
    const s = this.s;
    p.set(P_INIT); // Int32Array.set wraps words of 2^31 and up to their int32 bit pattern.
    s.set(S_INIT);
    for (let i = 0, k = 0; i < 18; i++) {
      let word = 0;
      for (let j = 0; j < 4; j++, k++) word = (word << 8) | key[k % key.length]!;
      p[i] = p[i]! ^ word;
    }
    // Each encipherment of the running (l, r) replaces the next two words, P first, then the S-boxes.
    const lr = new Int32Array(2);
    for (let i = 0; i < 18; i += 2) {
      encipher(p, s, lr);
      p[i] = lr[0]!;
      p[i + 1] = lr[1]!;
    }
    for (let i = 0; i < 1024; i += 2) {
      encipher(p, s, lr);
      s[i] = lr[0]!;
      s[i + 1] = lr[1]!;
    }
    for (let i = 0; i < 18; i++) this.pd[i] = p[17 - i]!;
  }

  /** Encrypts the 8-byte block at `src[srcAt]` into `dst[dstAt]` (may be the same place). */
  encryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
    blockInto(this.pe, this.s, src, srcAt, dst, dstAt);
  }

  /** Decrypts the 8-byte block at `src[srcAt]` into `dst[dstAt]` (may be the same place). */
  decryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
    blockInto(this.pd, this.s, src, srcAt, dst, dstAt);
  }

  /**
   * ECB-encrypts `src[srcAt, srcAt+length)` (`length` a multiple of 8) into
   * `dst[dstAt…]`. In place is allowed, and so is an overlap with
   * `dstAt <= srcAt` in the same buffer. Throws a RangeError, before writing
   * anything, for a partial block or a range outside either array.
   */
  encryptEcbInto(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    this.ecbInto(this.pe, src, srcAt, length, dst, dstAt);
  }

  /** ECB-decrypts like {@link encryptEcbInto} encrypts (same arguments, same rules). */
  decryptEcbInto(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    this.ecbInto(this.pd, src, srcAt, length, dst, dstAt);
  }

  /** Bulk ECB with `P` (pe: encrypt, pd: decrypt) on the engine's fastest path. */
  private ecbInto(P: Int32Array, src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    checkRange("ECB", src, srcAt, length, dst, dstAt);
    // The data path's buffers (one arena) go through WebAssembly, 1.2–2 times faster.
    if (wasmEcb(this.schedule, P === this.pd, src, srcAt, length, dst, dstAt)) return;
    const sv = this.srcViews.of(src);
    const dv = this.dstViews.of(dst);
    if (ECB_FROM_MODULE_BOXES) {
      if (boxesOf !== this.s) loadBoxes(this.s);
      ecbWordsFromBoxes(P, sv, src.byteOffset + srcAt, length, dv, dst.byteOffset + dstAt);
    } else {
      ecbWords(P, this.s, sv, src.byteOffset + srcAt, length, dv, dst.byteOffset + dstAt);
    }
  }

  /**
   * The serial chained modes in bulk: CBC encryption (C_i = E(P_i ^ C_{i-1})),
   * CFB64 encryption (C_i = E(C_{i-1}) ^ P_i) or OFB64 (K_i = E(K_{i-1}),
   * out = in ^ K_i; both directions) of `length` bytes (a multiple of 8),
   * continuing from the feedback register `reg` (8 bytes: the IV at first;
   * updated for the next call). Same in-place, overlap and error rules as
   * {@link encryptEcbInto}. Each block needs the previous one, so there is no
   * interleaving here; this only saves the per-block calls and byte shuffling.
   */
  chainEncryptInto(
    mode: "cbc" | "cfb" | "ofb",
    reg: Uint8Array,
    src: Uint8Array,
    srcAt: number,
    length: number,
    dst: Uint8Array,
    dstAt: number,
  ): void {
    checkRange(mode, src, srcAt, length, dst, dstAt);
    if (reg.length < 8) throw new RangeError(`blowfish: feedback register of ${reg.length} bytes, need 8`);
    chainWords(this.pe, this.s, mode, reg, this.srcViews.of(src), src.byteOffset + srcAt, length, this.dstViews.of(dst), dst.byteOffset + dstAt);
  }

  /** ECB-encrypts `data` (a multiple of 8 bytes) into a new array. */
  encryptEcb(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    this.encryptEcbInto(data, 0, data.length, out, 0);
    return out;
  }

  /** ECB-decrypts `data` (a multiple of 8 bytes) into a new array. */
  decryptEcb(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    this.decryptEcbInto(data, 0, data.length, out, 0);
    return out;
  }
}

/** One encipherment of `lr` = [l, r] in place, for the key schedule. */
function encipher(P: Int32Array, S: Int32Array, lr: Int32Array): void {
  let l = lr[0]! ^ P[0]!;
  let r = lr[1]!;
  for (let k = 1; k < 17; k += 2) {
    r ^= (((S[l >>> 24]! + S[256 | ((l >>> 16) & 0xff)]!) ^ S[512 | ((l >>> 8) & 0xff)]!) + S[768 | (l & 0xff)]!) ^ P[k]!;
    l ^= (((S[r >>> 24]! + S[256 | ((r >>> 16) & 0xff)]!) ^ S[512 | ((r >>> 8) & 0xff)]!) + S[768 | (r & 0xff)]!) ^ P[k + 1]!;
  }
  lr[0] = r ^ P[17]!;
  lr[1] = l;
}

/** One block through the 16 rounds with `P` (forward: encrypt, reversed: decrypt); in place allowed. */
function blockInto(P: Int32Array, S: Int32Array, src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
  let l = getWord(src, srcAt) ^ P[0]!;
  let r = getWord(src, srcAt + 4);
  // F(x) = ((S0[a] + S1[b]) ^ S2[c]) + S3[d] mod 2^32: each sum of two int32
  // words is exact (it may leave the int32 range), and the XOR that consumes
  // it takes it mod 2^32 (ToInt32), so no `| 0` is needed; the JITs see the
  // truncating use and compile the adds as plain 32-bit adds (measured: adding
  // `| 0` changes nothing).
  for (let k = 1; k < 17; k += 2) {
    r ^= (((S[l >>> 24]! + S[256 | ((l >>> 16) & 0xff)]!) ^ S[512 | ((l >>> 8) & 0xff)]!) + S[768 | (l & 0xff)]!) ^ P[k]!;
    l ^= (((S[r >>> 24]! + S[256 | ((r >>> 16) & 0xff)]!) ^ S[512 | ((r >>> 8) & 0xff)]!) + S[768 | (r & 0xff)]!) ^ P[k + 1]!;
  }
  r ^= P[17]!;
  // The halves come out swapped (the last round's swap is undone).
  putWord(dst, dstAt, r);
  putWord(dst, dstAt + 4, l);
}

/** The big-endian 32-bit word at `bytes[at]`, as an int32. */
function getWord(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

/** Writes `word` big-endian at `bytes[at]`. */
function putWord(bytes: Uint8Array, at: number, word: number): void {
  bytes[at] = word >>> 24;
  bytes[at + 1] = word >>> 16;
  bytes[at + 2] = word >>> 8;
  bytes[at + 3] = word;
}

/** The checks shared by the bulk paths: whole blocks, both ranges inside their arrays. */
function checkRange(what: string, src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
  if ((length & 7) !== 0) {
    throw new RangeError(`blowfish: ${what} input of ${length} bytes is not a multiple of 8`);
  }
  if (length < 0 || srcAt < 0 || srcAt + length > src.length || dstAt < 0 || dstAt + length > dst.length) {
    throw new RangeError(`blowfish: ${what} range of ${length} bytes at ${srcAt} -> ${dstAt} is outside the arrays`);
  }
}

/**
 * {@link Blowfish.chainEncryptInto} on words, ranges already checked: `sv`
 * and `dv` are views of the whole source and destination buffers, `sa` and
 * `da` the absolute byte offsets. One block after the other, the feedback
 * words kept in locals.
 */
function chainWords(
  P: Int32Array,
  S: Int32Array,
  mode: "cbc" | "cfb" | "ofb",
  reg: Uint8Array,
  sv: DataView,
  sa: number,
  length: number,
  dv: DataView,
  da: number,
): void {
  if (length === 0) return;
  const cbc = mode === "cbc";
  const ofb = mode === "ofb";
  const p0 = P[0]!;
  const p17 = P[17]!;
  let fl = getWord(reg, 0);
  let fr = getWord(reg, 4);
  const end = sa + length;
  for (let s = sa, d = da; s < end; s += 8, d += 8) {
    const xl = sv.getInt32(s);
    const xr = sv.getInt32(s + 4);
    // CBC encrypts feedback ^ input; CFB and OFB encrypt the feedback alone.
    let l = (cbc ? fl ^ xl : fl) ^ p0;
    let r = cbc ? fr ^ xr : fr;
    for (let k = 1; k < 17; k += 2) {
      r ^= (((S[l >>> 24]! + S[256 | ((l >>> 16) & 0xff)]!) ^ S[512 | ((l >>> 8) & 0xff)]!) + S[768 | (l & 0xff)]!) ^ P[k]!;
      l ^= (((S[r >>> 24]! + S[256 | ((r >>> 16) & 0xff)]!) ^ S[512 | ((r >>> 8) & 0xff)]!) + S[768 | (r & 0xff)]!) ^ P[k + 1]!;
    }
    // E(...) is (r ^ p17, l). CBC: that is the output and the feedback; CFB:
    // output and feedback are it ^ input; OFB: it is the feedback, output it ^ input.
    const el = r ^ p17;
    if (cbc) {
      fl = el;
      fr = l;
      dv.setInt32(d, el);
      dv.setInt32(d + 4, l);
    } else if (ofb) {
      fl = el;
      fr = l;
      dv.setInt32(d, el ^ xl);
      dv.setInt32(d + 4, l ^ xr);
    } else {
      fl = el ^ xl;
      fr = l ^ xr;
      dv.setInt32(d, fl);
      dv.setInt32(d + 4, fr);
    }
  }
  putWord(reg, 0, fl);
  putWord(reg, 4, fr);
}

/**
 * ECB over whole blocks with `P` (forward: encrypt, reversed: decrypt).
 *
 * Why it is shaped like this (measured on Bun/JSC, Deno/V8 and Node/V8 with
 * scripts/lib/bench-blowfish.ts): one block's 16 rounds are a chain of
 * dependent table look-ups, so a block-at-a-time loop runs at the latency of
 * that chain, not at the CPU's throughput. Four independent blocks go
 * through the rounds side by side instead (2 lanes: 1.4 times slower; 3 and
 * 6 lanes: slower too, more registers spill). The rounds stay in a loop of
 * eight double rounds, which measured faster than unrolling all 16 (smaller
 * code, P read from its array rather than 18 locals competing for
 * registers). Words are read and written through DataViews: one bounds check
 * and a byte swap per word, 10% (JSC) to 25% (V8) faster than four byte
 * accesses. When fewer than four blocks are left, the
 * missing lanes repeat the last block, which writes the same bytes to the
 * same place twice: no tail loop, and harmless in place.
 *
 * Overlap: every iteration reads its blocks before it writes, and writes only
 * below the next iteration's source bytes when `dst` starts at or before `src`.
 */
function ecbWords(P: Int32Array, S: Int32Array, sv: DataView, sa: number, length: number, dv: DataView, da: number): void {
  const p0 = P[0]!;
  const p17 = P[17]!;
  const last = length - 8;
  for (let i = 0; i < length; i += 32) {
    const o1 = i + 8 < length ? i + 8 : last;
    const o2 = i + 16 < length ? i + 16 : last;
    const o3 = i + 24 < length ? i + 24 : last;
    let l0 = sv.getInt32(sa + i) ^ p0;
    let r0 = sv.getInt32(sa + i + 4);
    let l1 = sv.getInt32(sa + o1) ^ p0;
    let r1 = sv.getInt32(sa + o1 + 4);
    let l2 = sv.getInt32(sa + o2) ^ p0;
    let r2 = sv.getInt32(sa + o2 + 4);
    let l3 = sv.getInt32(sa + o3) ^ p0;
    let r3 = sv.getInt32(sa + o3 + 4);
    // F as in blockInto: the XOR with the other half takes the sums mod 2^32.
    for (let k = 1; k < 17; k += 2) {
      const pa = P[k]!;
      const pb = P[k + 1]!;
      r0 ^= (((S[l0 >>> 24]! + S[256 | ((l0 >>> 16) & 0xff)]!) ^ S[512 | ((l0 >>> 8) & 0xff)]!) + S[768 | (l0 & 0xff)]!) ^ pa;
      r1 ^= (((S[l1 >>> 24]! + S[256 | ((l1 >>> 16) & 0xff)]!) ^ S[512 | ((l1 >>> 8) & 0xff)]!) + S[768 | (l1 & 0xff)]!) ^ pa;
      r2 ^= (((S[l2 >>> 24]! + S[256 | ((l2 >>> 16) & 0xff)]!) ^ S[512 | ((l2 >>> 8) & 0xff)]!) + S[768 | (l2 & 0xff)]!) ^ pa;
      r3 ^= (((S[l3 >>> 24]! + S[256 | ((l3 >>> 16) & 0xff)]!) ^ S[512 | ((l3 >>> 8) & 0xff)]!) + S[768 | (l3 & 0xff)]!) ^ pa;
      l0 ^= (((S[r0 >>> 24]! + S[256 | ((r0 >>> 16) & 0xff)]!) ^ S[512 | ((r0 >>> 8) & 0xff)]!) + S[768 | (r0 & 0xff)]!) ^ pb;
      l1 ^= (((S[r1 >>> 24]! + S[256 | ((r1 >>> 16) & 0xff)]!) ^ S[512 | ((r1 >>> 8) & 0xff)]!) + S[768 | (r1 & 0xff)]!) ^ pb;
      l2 ^= (((S[r2 >>> 24]! + S[256 | ((r2 >>> 16) & 0xff)]!) ^ S[512 | ((r2 >>> 8) & 0xff)]!) + S[768 | (r2 & 0xff)]!) ^ pb;
      l3 ^= (((S[r3 >>> 24]! + S[256 | ((r3 >>> 16) & 0xff)]!) ^ S[512 | ((r3 >>> 8) & 0xff)]!) + S[768 | (r3 & 0xff)]!) ^ pb;
    }
    // Output halves swapped, as in blockInto.
    dv.setInt32(da + i, r0 ^ p17);
    dv.setInt32(da + i + 4, l0);
    dv.setInt32(da + o1, r1 ^ p17);
    dv.setInt32(da + o1 + 4, l1);
    dv.setInt32(da + o2, r2 ^ p17);
    dv.setInt32(da + o2 + 4, l2);
    dv.setInt32(da + o3, r3 ^ p17);
    dv.setInt32(da + o3 + 4, l3);
  }
}

// The S-boxes of one key, one table each, for ecbWordsFromBoxes; `boxesOf`
// is the instance table they were copied from (a thread usually has one key).
const BOX0 = new Int32Array(256);
const BOX1 = new Int32Array(256);
const BOX2 = new Int32Array(256);
const BOX3 = new Int32Array(256);
let boxesOf: Int32Array | null = null;

/** Copies an instance's four S-boxes into BOX0..BOX3 (4 KiB, once per key change). */
function loadBoxes(s: Int32Array): void {
  BOX0.set(s.subarray(0, 256));
  BOX1.set(s.subarray(256, 512));
  BOX2.set(s.subarray(512, 768));
  BOX3.set(s.subarray(768, 1024));
  boxesOf = s;
}

/**
 * {@link ecbWords} with the S-boxes read from BOX0..BOX3 instead of the
 * instance's table, for JSC: it treats module-level constants as known
 * objects of known length, so with indexes masked to 0..255 it drops the
 * bounds checks of the 64 table reads per block (6–12% faster per 1400-byte
 * packet in Bun 1.4 with scripts/lib/bench-blowfish.ts). It stays a twin of
 * ecbWords because no single shape is fast on both engines: in V8 this one
 * is 19–24% slower (1400 B: Deno 3.85 → 4.59 µs, Node 4.90 → 6.0 µs), and
 * the four tables passed as arguments were slower on both (Bun 4.2, Deno
 * 4.2 µs).
 */
function ecbWordsFromBoxes(P: Int32Array, sv: DataView, sa: number, length: number, dv: DataView, da: number): void {
  const p0 = P[0]!;
  const p17 = P[17]!;
  const last = length - 8;
  for (let i = 0; i < length; i += 32) {
    const o1 = i + 8 < length ? i + 8 : last;
    const o2 = i + 16 < length ? i + 16 : last;
    const o3 = i + 24 < length ? i + 24 : last;
    let l0 = sv.getInt32(sa + i) ^ p0;
    let r0 = sv.getInt32(sa + i + 4);
    let l1 = sv.getInt32(sa + o1) ^ p0;
    let r1 = sv.getInt32(sa + o1 + 4);
    let l2 = sv.getInt32(sa + o2) ^ p0;
    let r2 = sv.getInt32(sa + o2 + 4);
    let l3 = sv.getInt32(sa + o3) ^ p0;
    let r3 = sv.getInt32(sa + o3 + 4);
    for (let k = 1; k < 17; k += 2) {
      const pa = P[k]!;
      const pb = P[k + 1]!;
      r0 ^= (((BOX0[l0 >>> 24]! + BOX1[(l0 >>> 16) & 0xff]!) ^ BOX2[(l0 >>> 8) & 0xff]!) + BOX3[l0 & 0xff]!) ^ pa;
      r1 ^= (((BOX0[l1 >>> 24]! + BOX1[(l1 >>> 16) & 0xff]!) ^ BOX2[(l1 >>> 8) & 0xff]!) + BOX3[l1 & 0xff]!) ^ pa;
      r2 ^= (((BOX0[l2 >>> 24]! + BOX1[(l2 >>> 16) & 0xff]!) ^ BOX2[(l2 >>> 8) & 0xff]!) + BOX3[l2 & 0xff]!) ^ pa;
      r3 ^= (((BOX0[l3 >>> 24]! + BOX1[(l3 >>> 16) & 0xff]!) ^ BOX2[(l3 >>> 8) & 0xff]!) + BOX3[l3 & 0xff]!) ^ pa;
      l0 ^= (((BOX0[r0 >>> 24]! + BOX1[(r0 >>> 16) & 0xff]!) ^ BOX2[(r0 >>> 8) & 0xff]!) + BOX3[r0 & 0xff]!) ^ pb;
      l1 ^= (((BOX0[r1 >>> 24]! + BOX1[(r1 >>> 16) & 0xff]!) ^ BOX2[(r1 >>> 8) & 0xff]!) + BOX3[r1 & 0xff]!) ^ pb;
      l2 ^= (((BOX0[r2 >>> 24]! + BOX1[(r2 >>> 16) & 0xff]!) ^ BOX2[(r2 >>> 8) & 0xff]!) + BOX3[r2 & 0xff]!) ^ pb;
      l3 ^= (((BOX0[r3 >>> 24]! + BOX1[(r3 >>> 16) & 0xff]!) ^ BOX2[(r3 >>> 8) & 0xff]!) + BOX3[r3 & 0xff]!) ^ pb;
    }
    dv.setInt32(da + i, r0 ^ p17);
    dv.setInt32(da + i + 4, l0);
    dv.setInt32(da + o1, r1 ^ p17);
    dv.setInt32(da + o1 + 4, l1);
    dv.setInt32(da + o2, r2 ^ p17);
    dv.setInt32(da + o2 + 4, l2);
    dv.setInt32(da + o3, r3 ^ p17);
    dv.setInt32(da + o3 + 4, l3);
  }
}
