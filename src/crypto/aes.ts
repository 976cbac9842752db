/**
 * AES (FIPS-197) block cipher in TypeScript, for runtimes whose node:crypto
 * lacks an AES mode vtund uses (Deno has no CFB/OFB). Classic 32-bit T-table
 * implementation, encryption and decryption, 128/192/256-bit keys. The tables
 * are computed once at module load from the S-box definition.
 */

/** The forward S-box. */
const SBOX = new Uint8Array(256);
/** The inverse S-box. */
const INV_SBOX = new Uint8Array(256);
// Encryption tables: TE0[x] = (2s, s, s, 3s) as a big-endian word; TE1..3 are rotations.
const TE0 = new Uint32Array(256);
const TE1 = new Uint32Array(256);
const TE2 = new Uint32Array(256);
const TE3 = new Uint32Array(256);
// Decryption tables: TD0[x] = (14s', 9s', 13s', 11s') of the inverse S-box.
const TD0 = new Uint32Array(256);
const TD1 = new Uint32Array(256);
const TD2 = new Uint32Array(256);
const TD3 = new Uint32Array(256);

function buildTables(): void {
  // Powers and logarithms of 3 in GF(2^8) give inverses quickly.
  const pow = new Uint8Array(256);
  const log = new Uint8Array(256);
  for (let i = 0, x = 1; i < 256; i++) {
    pow[i] = x;
    log[x] = i;
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0);
    x &= 0xff;
  }
  const mul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : pow[(log[a]! + log[b]!) % 255]!);
  for (let i = 0; i < 256; i++) {
    const inv = i === 0 ? 0 : pow[255 - log[i]!]!;
    let s = inv;
    let r = inv;
    for (let k = 0; k < 4; k++) {
      r = ((r << 1) | (r >>> 7)) & 0xff;
      s ^= r;
    }
    s ^= 0x63;
    SBOX[i] = s;
    INV_SBOX[s] = i;
  }
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const e = ((mul(s, 2) << 24) | (s << 16) | (s << 8) | mul(s, 3)) >>> 0;
    TE0[i] = e;
    TE1[i] = ((e >>> 8) | (e << 24)) >>> 0;
    TE2[i] = ((e >>> 16) | (e << 16)) >>> 0;
    TE3[i] = ((e >>> 24) | (e << 8)) >>> 0;
    const v = INV_SBOX[i]!;
    const d = ((mul(v, 14) << 24) | (mul(v, 9) << 16) | (mul(v, 13) << 8) | mul(v, 11)) >>> 0;
    TD0[i] = d;
    TD1[i] = ((d >>> 8) | (d << 24)) >>> 0;
    TD2[i] = ((d >>> 16) | (d << 16)) >>> 0;
    TD3[i] = ((d >>> 24) | (d << 8)) >>> 0;
  }
}
buildTables();

/** AES with an expanded key; encrypts and decrypts 16-byte blocks. */
export class Aes {
  /** Always 16. */
  readonly blockSize = 16;
  /** Number of rounds: 10, 12 or 14. */
  private readonly rounds: number;
  private readonly ek: Uint32Array;
  private readonly dk: Uint32Array;

  /** Expands a 16-, 24- or 32-byte key. */
  constructor(key: Uint8Array) {
    const nk = key.length / 4;
    if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
      throw new RangeError(`aes: key length ${key.length} is not 16, 24 or 32 bytes`);
    }
    this.rounds = nk + 6;
    const words = 4 * (this.rounds + 1);
    const ek = new Uint32Array(words);
    for (let i = 0; i < nk; i++) {
      ek[i] = ((key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) | key[4 * i + 3]!) >>> 0;
    }
    for (let i = nk, rcon = 1; i < words; i++) {
      let t = ek[i - 1]!;
      if (i % nk === 0) {
        t = ((SBOX[(t >>> 16) & 0xff]! << 24) | (SBOX[(t >>> 8) & 0xff]! << 16) | (SBOX[t & 0xff]! << 8) | SBOX[t >>> 24]!) ^
          (rcon << 24);
        rcon = (rcon << 1) ^ (rcon & 0x80 ? 0x11b : 0);
      } else if (nk > 6 && i % nk === 4) {
        t = (SBOX[t >>> 24]! << 24) | (SBOX[(t >>> 16) & 0xff]! << 16) | (SBOX[(t >>> 8) & 0xff]! << 8) | SBOX[t & 0xff]!;
      }
      ek[i] = (ek[i - nk]! ^ t) >>> 0;
    }
    // Equivalent inverse cipher: round keys in reverse order, InvMixColumns on the middle ones.
    const dk = new Uint32Array(words);
    for (let r = 0; r <= this.rounds; r++) {
      for (let c = 0; c < 4; c++) {
        const w = ek[4 * (this.rounds - r) + c]!;
        dk[4 * r + c] = r === 0 || r === this.rounds
          ? w
          : (TD0[SBOX[w >>> 24]!]! ^ TD1[SBOX[(w >>> 16) & 0xff]!]! ^ TD2[SBOX[(w >>> 8) & 0xff]!]! ^
            TD3[SBOX[w & 0xff]!]!) >>> 0;
      }
    }
    this.ek = ek;
    this.dk = dk;
  }

  /** Encrypts the 16-byte block at `src[srcAt]` into `dst[dstAt]` (may be the same place). */
  encryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
    const k = this.ek;
    let s0 = ((src[srcAt]! << 24) | (src[srcAt + 1]! << 16) | (src[srcAt + 2]! << 8) | src[srcAt + 3]!) ^ k[0]!;
    let s1 = ((src[srcAt + 4]! << 24) | (src[srcAt + 5]! << 16) | (src[srcAt + 6]! << 8) | src[srcAt + 7]!) ^ k[1]!;
    let s2 = ((src[srcAt + 8]! << 24) | (src[srcAt + 9]! << 16) | (src[srcAt + 10]! << 8) | src[srcAt + 11]!) ^ k[2]!;
    let s3 = ((src[srcAt + 12]! << 24) | (src[srcAt + 13]! << 16) | (src[srcAt + 14]! << 8) | src[srcAt + 15]!) ^ k[3]!;
    let ki = 4;
    for (let r = 1; r < this.rounds; r++, ki += 4) {
      const t0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ k[ki]!;
      const t1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ k[ki + 1]!;
      const t2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ k[ki + 2]!;
      const t3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ k[ki + 3]!;
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
    }
    const sb = SBOX;
    const o0 = ((sb[s0 >>> 24]! << 24) | (sb[(s1 >>> 16) & 0xff]! << 16) | (sb[(s2 >>> 8) & 0xff]! << 8) | sb[s3 & 0xff]!) ^ k[ki]!;
    const o1 = ((sb[s1 >>> 24]! << 24) | (sb[(s2 >>> 16) & 0xff]! << 16) | (sb[(s3 >>> 8) & 0xff]! << 8) | sb[s0 & 0xff]!) ^ k[ki + 1]!;
    const o2 = ((sb[s2 >>> 24]! << 24) | (sb[(s3 >>> 16) & 0xff]! << 16) | (sb[(s0 >>> 8) & 0xff]! << 8) | sb[s1 & 0xff]!) ^ k[ki + 2]!;
    const o3 = ((sb[s3 >>> 24]! << 24) | (sb[(s0 >>> 16) & 0xff]! << 16) | (sb[(s1 >>> 8) & 0xff]! << 8) | sb[s2 & 0xff]!) ^ k[ki + 3]!;
    store(dst, dstAt, o0, o1, o2, o3);
  }

  /** Decrypts the 16-byte block at `src[srcAt]` into `dst[dstAt]` (may be the same place). */
  decryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
    const k = this.dk;
    let s0 = ((src[srcAt]! << 24) | (src[srcAt + 1]! << 16) | (src[srcAt + 2]! << 8) | src[srcAt + 3]!) ^ k[0]!;
    let s1 = ((src[srcAt + 4]! << 24) | (src[srcAt + 5]! << 16) | (src[srcAt + 6]! << 8) | src[srcAt + 7]!) ^ k[1]!;
    let s2 = ((src[srcAt + 8]! << 24) | (src[srcAt + 9]! << 16) | (src[srcAt + 10]! << 8) | src[srcAt + 11]!) ^ k[2]!;
    let s3 = ((src[srcAt + 12]! << 24) | (src[srcAt + 13]! << 16) | (src[srcAt + 14]! << 8) | src[srcAt + 15]!) ^ k[3]!;
    let ki = 4;
    for (let r = 1; r < this.rounds; r++, ki += 4) {
      const t0 = TD0[s0 >>> 24]! ^ TD1[(s3 >>> 16) & 0xff]! ^ TD2[(s2 >>> 8) & 0xff]! ^ TD3[s1 & 0xff]! ^ k[ki]!;
      const t1 = TD0[s1 >>> 24]! ^ TD1[(s0 >>> 16) & 0xff]! ^ TD2[(s3 >>> 8) & 0xff]! ^ TD3[s2 & 0xff]! ^ k[ki + 1]!;
      const t2 = TD0[s2 >>> 24]! ^ TD1[(s1 >>> 16) & 0xff]! ^ TD2[(s0 >>> 8) & 0xff]! ^ TD3[s3 & 0xff]! ^ k[ki + 2]!;
      const t3 = TD0[s3 >>> 24]! ^ TD1[(s2 >>> 16) & 0xff]! ^ TD2[(s1 >>> 8) & 0xff]! ^ TD3[s0 & 0xff]! ^ k[ki + 3]!;
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
    }
    const sb = INV_SBOX;
    const o0 = ((sb[s0 >>> 24]! << 24) | (sb[(s3 >>> 16) & 0xff]! << 16) | (sb[(s2 >>> 8) & 0xff]! << 8) | sb[s1 & 0xff]!) ^ k[ki]!;
    const o1 = ((sb[s1 >>> 24]! << 24) | (sb[(s0 >>> 16) & 0xff]! << 16) | (sb[(s3 >>> 8) & 0xff]! << 8) | sb[s2 & 0xff]!) ^ k[ki + 1]!;
    const o2 = ((sb[s2 >>> 24]! << 24) | (sb[(s1 >>> 16) & 0xff]! << 16) | (sb[(s0 >>> 8) & 0xff]! << 8) | sb[s3 & 0xff]!) ^ k[ki + 2]!;
    const o3 = ((sb[s3 >>> 24]! << 24) | (sb[(s2 >>> 16) & 0xff]! << 16) | (sb[(s1 >>> 8) & 0xff]! << 8) | sb[s0 & 0xff]!) ^ k[ki + 3]!;
    store(dst, dstAt, o0, o1, o2, o3);
  }
}

function store(dst: Uint8Array, at: number, a: number, b: number, c: number, d: number): void {
  dst[at] = a >>> 24;
  dst[at + 1] = a >>> 16;
  dst[at + 2] = a >>> 8;
  dst[at + 3] = a;
  dst[at + 4] = b >>> 24;
  dst[at + 5] = b >>> 16;
  dst[at + 6] = b >>> 8;
  dst[at + 7] = b;
  dst[at + 8] = c >>> 24;
  dst[at + 9] = c >>> 16;
  dst[at + 10] = c >>> 8;
  dst[at + 11] = c;
  dst[at + 12] = d >>> 24;
  dst[at + 13] = d >>> 16;
  dst[at + 14] = d >>> 8;
  dst[at + 15] = d;
}
