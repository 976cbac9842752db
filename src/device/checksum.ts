/**
 * Internet checksums (RFC 1071) for the offload data path: the 16-bit
 * one's-complement sum over a byte range, IPv4/IPv6 pseudo-header sums, and
 * the helpers that finish or recompute IP, TCP and UDP checksums in place.
 *
 * All sums use "network order" values: the folded sum of a range equals the
 * one's-complement sum of its bytes read as big-endian 16-bit words, so a
 * result can be stored with `buf[i] = s >>> 8; buf[i + 1] = s & 0xff`.
 *
 * The hot loop sums native 16-bit words through a `Uint16Array` view of the
 * whole ArrayBuffer (measured fastest in Bun; a `Uint32Array` variant and
 * byte-pair loops were slower). On a little-endian host that yields the
 * byte-swapped sum, which RFC 1071 §2(B) allows us to swap back once at the
 * end. A range that starts at an odd address is handled with the same rule
 * (a one-byte shift swaps the sum), so the fast path is taken for any offset.
 * Over the data path's own buffers (the arena of bytes.ts) the word sum runs
 * in WebAssembly SIMD instead (checksum_wasm.ts), where the runtime has it.
 */
import { arenaMemory } from "../bytes.ts";
import { createWordSum, WORD_SUM_MAX, type WordSum } from "./checksum_wasm.ts";
import { compileSeparately } from "../runtime/jit_hints.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// One cached 16-bit view of the most recently used ArrayBuffer: the data path
// sums the same few buffers over and over, and a view per call would allocate.
let viewBuffer: ArrayBufferLike | null = null;
let viewBytes = -1;
let words: Uint16Array<ArrayBufferLike> = new Uint16Array(0);

function wordsOf(buf: Uint8Array): Uint16Array<ArrayBufferLike> {
  const b = buf.buffer;
  if (b !== viewBuffer || b.byteLength !== viewBytes) {
    viewBuffer = b;
    viewBytes = b.byteLength;
    words = new Uint16Array(b, 0, b.byteLength >>> 1);
  }
  return words;
}

/** Folds a (non-negative, < 2^53) sum of 16-bit words into 16 bits with end-around carry. */
export function fold(sum: number): number {
  // Two rounds are enough for any sum below 2^32; reduce larger ones first.
  if (sum > 0xffffffff) sum = (sum % 0x100000000) + Math.floor(sum / 0x100000000);
  sum = (sum >>> 16) + (sum & 0xffff);
  sum = (sum >>> 16) + (sum & 0xffff);
  return (sum >>> 16) + (sum & 0xffff);
}

/** Swaps the two bytes of a 16-bit value. */
function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}

/** Sum of native words[i .. i+n) (no fold); n up to 32768 keeps it below 2^31. */
function sumWords(w: Uint16Array<ArrayBufferLike>, i: number, n: number): number {
  // Two accumulators, unrolled by 8: measured ~1.5x the plain loop in Bun, and
  // each accumulator stays a small integer for any range up to 64 KiB.
  let a = 0;
  let b = 0;
  const end8 = i + (n & ~7);
  while (i < end8) {
    a += w[i]! + w[i + 1]! + w[i + 2]! + w[i + 3]!;
    b += w[i + 4]! + w[i + 5]! + w[i + 6]! + w[i + 7]!;
    i += 8;
  }
  const end = i + (n & 7);
  while (i < end) a += w[i++]!;
  return a + b;
}

// The SIMD word sum of each arena (one instance per arena; a session thread has one), and
// the last one used, which is checked first.
const simdSums = new WeakMap<ArrayBufferLike, WordSum | null>();
let lastBuffer: ArrayBufferLike | null = null;
let lastSum: WordSum | null = null;

/** The SIMD word sum if `buf` lies in an arena and the runtime runs it, else null. */
function simdFor(buf: Uint8Array): WordSum | null {
  const b = buf.buffer;
  if (b === lastBuffer) return lastSum;
  let sum = simdSums.get(b);
  if (sum === undefined) {
    const memory = arenaMemory(b);
    sum = memory === null ? null : createWordSum(memory);
    simdSums.set(b, sum);
  }
  lastBuffer = b;
  lastSum = sum;
  return sum;
}

/**
 * Sum (not folded) of the native 16-bit words of `buf`'s ArrayBuffer over the
 * even byte address range [abs, abs + byteLength); byteLength is even.
 */
function nativeWordsSum(buf: Uint8Array, abs: number, byteLength: number): number {
  let s = 0;
  let at = abs;
  let left = byteLength;
  const simd = simdFor(buf);
  if (simd !== null) {
    while (left >= 16) {
      const chunk = left < WORD_SUM_MAX ? left & ~15 : WORD_SUM_MAX;
      s += simd(at, chunk);
      at += chunk;
      left -= chunk;
    }
  }
  const w = wordsOf(buf);
  for (let i = at >>> 1, n = left >>> 1; n > 0; ) {
    const chunk = n < 32768 ? n : 32768;
    s += sumWords(w, i, chunk);
    i += chunk;
    n -= chunk;
  }
  return s;
}

/** Sum of bytes read as big-endian words, byte by byte (big-endian hosts, tests). */
function sumBytes(buf: Uint8Array, off: number, len: number): number {
  let s = 0;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (len & 1) s += buf[off + len - 1]! << 8;
  return s;
}

/**
 * One's-complement sum of `buf[off, off+len)` plus `initial`, folded to 16 bits
 * (not complemented). An odd-length range is padded with a zero byte, as the
 * checksum definitions require.
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  if (len < 32 || !LITTLE_ENDIAN) return fold(sumBytes(buf, off, len) + initial);
  const abs = buf.byteOffset + off;
  let net: number;
  if ((abs & 1) === 0) {
    // Aligned: native words are byte-swapped network words.
    net = swap16(fold(nativeWordsSum(buf, abs, len & ~1)));
    if (len & 1) net += buf[off + len - 1]! << 8;
  } else {
    // Odd start: the first byte is the high half of the first network word; the
    // rest starts aligned but one byte out of phase, which swaps its sum once
    // more — the two swaps cancel, so the native sum is used as is.
    const rest = len - 1;
    net = fold(nativeWordsSum(buf, abs + 1, rest & ~1)) + (buf[off]! << 8);
    // A trailing odd byte of `rest` sits at an even distance from `off`+1, i.e.
    // the low half of a network word of the original range.
    if (rest & 1) net += buf[off + len - 1]!;
  }
  return fold(net + initial);
}

// Its loops, inlined into every caller (the splitter's IPv4 header and L4 sums, the coalescer,
// partial checksums), made those callers' top-tier compiles slow and memory-hungry (jit_hints.ts).
compileSeparately(onesSum);

/** The Internet checksum of `buf[off, off+len)` with `initial` added: the complemented folded sum. */
export function checksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~onesSum(buf, off, len, initial) & 0xffff;
}

/** Reads a big-endian u16. */
function be16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

/**
 * Unfolded sum of the IPv4 pseudo header (source, destination, protocol,
 * `l4Length`) for the IPv4 header at `buf[ip]`. Fold it, or pass it as `initial`.
 */
export function pseudoSumV4(buf: Uint8Array, ip: number, protocol: number, l4Length: number): number {
  return be16(buf, ip + 12) + be16(buf, ip + 14) + be16(buf, ip + 16) + be16(buf, ip + 18) + protocol + l4Length;
}

/**
 * Unfolded sum of the IPv6 pseudo header (source, destination, upper-layer
 * length, next header) for the IPv6 header at `buf[ip]`.
 */
export function pseudoSumV6(buf: Uint8Array, ip: number, protocol: number, l4Length: number): number {
  let s = protocol + (l4Length >>> 16) + (l4Length & 0xffff);
  for (let i = ip + 8; i < ip + 40; i += 2) s += be16(buf, i);
  return s;
}

/** Stores a 16-bit value big-endian at `buf[at]`. */
export function put16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
}

/** Recomputes the IPv4 header checksum of the `ihl`-byte header at `buf[ip]` in place. */
export function fixIpv4HeaderChecksum(buf: Uint8Array, ip: number, ihl: number): void {
  buf[ip + 10] = 0;
  buf[ip + 11] = 0;
  put16(buf, ip + 10, checksum(buf, ip, ihl));
}

/**
 * Finishes a partial checksum (virtio `NEEDS_CSUM`): the field at
 * `csumStart + csumOffset` already holds the pseudo-header sum, so the
 * checksum of `[csumStart, end)` is stored there. 0 is stored as 0xffff, as
 * the kernel does (a UDP checksum of 0 would mean "none"). Offsets are
 * relative to `pkt` (the IP header); returns false if they do not fit.
 */
export function finishPartialChecksum(buf: Uint8Array, pkt: number, len: number, csumStart: number, csumOffset: number): boolean {
  if (csumStart + csumOffset + 2 > len) return false;
  const at = pkt + csumStart + csumOffset;
  put16(buf, at, checksum(buf, pkt + csumStart, len - csumStart) || 0xffff);
  return true;
}

/**
 * Computes the full TCP or UDP checksum of the `l4Length`-byte segment at
 * `buf[l4]` in place, given its unfolded pseudo-header sum. `field` is the
 * checksum's offset inside the L4 header (TCP 16, UDP 6).
 */
export function fillL4Checksum(buf: Uint8Array, l4: number, l4Length: number, field: number, pseudo: number): void {
  buf[l4 + field] = 0;
  buf[l4 + field + 1] = 0;
  put16(buf, l4 + field, checksum(buf, l4, l4Length, pseudo) || 0xffff);
}
