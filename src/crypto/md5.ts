/**
 * MD5 (RFC 1321), as vtund uses it to turn a password into a key and to
 * answer the challenge. In TypeScript so that a session does not load
 * node:crypto just for this (see src/runtime/builtin.ts); it hashes a
 * password or a 16-byte challenge per session, so speed does not matter.
 */

/** Per-round left rotations. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** K[i] = floor(2^32 × |sin(i + 1)|), the RFC's table. */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

/** MD5 digest (16 bytes) of `data` (a string is hashed as UTF-8). */
export function md5(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const n = bytes.length;
  // Message, 0x80, zeros, then the bit length (64-bit little-endian): a multiple of 64 bytes.
  const total = (((n + 8) >>> 6) + 1) << 6;
  const block = new Uint8Array(total);
  block.set(bytes);
  block[n] = 0x80;
  const view = new DataView(block.buffer);
  view.setUint32(total - 8, (n * 8) >>> 0, true);
  view.setUint32(total - 4, Math.floor(n / 0x20000000), true);

  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  const m = new Int32Array(16);
  for (let at = 0; at < total; at += 64) {
    for (let i = 0; i < 16; i++) m[i] = view.getInt32(at + 4 * i, true);
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      f = (f + a + K[i]! + m[g]!) | 0;
      a = d;
      d = c;
      c = b;
      const s = SHIFTS[((i >>> 4) << 2) + (i & 3)]!;
      b = (b + ((f << s) | (f >>> (32 - s)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  ov.setInt32(0, a0, true);
  ov.setInt32(4, b0, true);
  ov.setInt32(8, c0, true);
  ov.setInt32(12, d0, true);
  return out;
}
