/**
 * Blowfish block cipher (Schneier 1993), in TypeScript.
 *
 * vtund authenticates with Blowfish-ECB, and Deno and Node's OpenSSL 3 have no
 * Blowfish without the legacy provider, so vtunts carries its own. Checked
 * against Eric Young's published test vectors (see blowfish_test.ts).
 */
import { P_INIT, S_INIT } from "./blowfish_tables.ts";

/** Blowfish with an expanded key; encrypts and decrypts 8-byte blocks (big-endian words). */
export class Blowfish {
  /** Always 8. */
  readonly blockSize = 8;
  private readonly p = new Uint32Array(18);
  private readonly s = new Uint32Array(1024);
  // Scratch pair for the Feistel network, so block operations allocate nothing.
  private l = 0;
  private r = 0;

  /** Expands `key` (1 to 72 bytes; vtund uses 16 or 32). */
  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 72) {
      throw new RangeError(`blowfish: key length ${key.length} is not within 1..72 bytes`);
    }
    this.p.set(P_INIT);
    this.s.set(S_INIT);
    for (let i = 0, k = 0; i < 18; i++) {
      let word = 0;
      for (let j = 0; j < 4; j++, k++) word = (word << 8) | key[k % key.length]!;
      this.p[i] = this.p[i]! ^ word;
    }
    this.l = 0;
    this.r = 0;
    for (let i = 0; i < 18; i += 2) {
      this.encipher();
      this.p[i] = this.l;
      this.p[i + 1] = this.r;
    }
    for (let i = 0; i < 1024; i += 2) {
      this.encipher();
      this.s[i] = this.l;
      this.s[i + 1] = this.r;
    }
  }

  private f(x: number): number {
    const s = this.s;
    return ((((s[x >>> 24]! + s[256 + ((x >>> 16) & 0xff)]!) | 0) ^ s[512 + ((x >>> 8) & 0xff)]!) +
      s[768 + (x & 0xff)]!) | 0;
  }

  private encipher(): void {
    const p = this.p;
    let l = this.l;
    let r = this.r;
    for (let i = 0; i < 16; i += 2) {
      l ^= p[i]!;
      r ^= this.f(l);
      r ^= p[i + 1]!;
      l ^= this.f(r);
    }
    this.l = (r ^ p[17]!) >>> 0;
    this.r = (l ^ p[16]!) >>> 0;
  }

  private decipher(): void {
    const p = this.p;
    let l = this.l;
    let r = this.r;
    for (let i = 17; i > 1; i -= 2) {
      l ^= p[i]!;
      r ^= this.f(l);
      r ^= p[i - 1]!;
      l ^= this.f(r);
    }
    this.l = (r ^ p[0]!) >>> 0;
    this.r = (l ^ p[1]!) >>> 0;
  }

  private load(src: Uint8Array, at: number): void {
    this.l = ((src[at]! << 24) | (src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!) >>> 0;
    this.r = ((src[at + 4]! << 24) | (src[at + 5]! << 16) | (src[at + 6]! << 8) | src[at + 7]!) >>> 0;
  }

  private store(dst: Uint8Array, at: number): void {
    dst[at] = this.l >>> 24;
    dst[at + 1] = this.l >>> 16;
    dst[at + 2] = this.l >>> 8;
    dst[at + 3] = this.l;
    dst[at + 4] = this.r >>> 24;
    dst[at + 5] = this.r >>> 16;
    dst[at + 6] = this.r >>> 8;
    dst[at + 7] = this.r;
  }

  /** Encrypts the 8-byte block at `src[srcAt]` into `dst[dstAt]` (may be the same place). */
  encryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
    this.load(src, srcAt);
    this.encipher();
    this.store(dst, dstAt);
  }

  /** Decrypts the 8-byte block at `src[srcAt]` into `dst[dstAt]` (may be the same place). */
  decryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void {
    this.load(src, srcAt);
    this.decipher();
    this.store(dst, dstAt);
  }

  /** ECB-encrypts `data` (a multiple of 8 bytes) into a new array. */
  encryptEcb(data: Uint8Array): Uint8Array {
    return this.ecb(data, true);
  }

  /** ECB-decrypts `data` (a multiple of 8 bytes) into a new array. */
  decryptEcb(data: Uint8Array): Uint8Array {
    return this.ecb(data, false);
  }

  private ecb(data: Uint8Array, encrypt: boolean): Uint8Array {
    if (data.length % 8 !== 0) {
      throw new RangeError(`blowfish: ECB input of ${data.length} bytes is not a multiple of 8`);
    }
    const out = new Uint8Array(data.length);
    for (let at = 0; at < data.length; at += 8) {
      if (encrypt) this.encryptBlock(data, at, out, at);
      else this.decryptBlock(data, at, out, at);
    }
    return out;
  }
}
