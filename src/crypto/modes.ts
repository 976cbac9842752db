/**
 * Block cipher modes (ECB, CBC, full-block CFB, OFB) in TypeScript on top of
 * a block primitive, with the semantics of an OpenSSL EVP context that is
 * never reset: each `update()` continues the chain of the previous one (CBC
 * IV = last ciphertext block, CFB/OFB feedback register carried over). Inputs
 * are always whole blocks, so no partial-block state is needed.
 */

/** A block cipher with an expanded key (Blowfish or AES). */
export interface BlockCipher {
  /** Block size in bytes (8 or 16). */
  readonly blockSize: number;
  /** Encrypts one block at `src[srcAt]` into `dst[dstAt]`; the two may be the same place. */
  encryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void;
  /** Decrypts one block at `src[srcAt]` into `dst[dstAt]`; the two may be the same place. */
  decryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void;
}

/** The block cipher modes vtund uses (CFB is the full-block variant: CFB64 for Blowfish, CFB128 for AES). */
export type Mode = "ecb" | "cbc" | "cfb" | "ofb";

/**
 * One direction's running cipher context. `update` transforms
 * `src[srcAt, srcAt+length)` (a multiple of the block size) into
 * `dst[dstAt…]` and keeps the chaining state for the next call. Source and
 * destination may be the same bytes, or overlap with `dstAt <= srcAt` in the
 * same buffer.
 */
export interface ModeContext {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void;
}

class EcbEncrypt implements ModeContext {
  constructor(private readonly block: BlockCipher) {}
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const bs = this.block.blockSize;
    for (let i = 0; i < length; i += bs) this.block.encryptBlock(src, srcAt + i, dst, dstAt + i);
  }
}

class EcbDecrypt implements ModeContext {
  constructor(private readonly block: BlockCipher) {}
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const bs = this.block.blockSize;
    for (let i = 0; i < length; i += bs) this.block.decryptBlock(src, srcAt + i, dst, dstAt + i);
  }
}

/** Base of the chained modes: holds the feedback register. */
abstract class Chained implements ModeContext {
  protected readonly reg: Uint8Array;
  protected readonly tmp: Uint8Array;
  protected readonly bs: number;
  constructor(protected readonly block: BlockCipher, iv: Uint8Array) {
    this.bs = block.blockSize;
    if (iv.length < this.bs) throw new RangeError(`IV of ${iv.length} bytes is shorter than the ${this.bs}-byte block`);
    this.reg = iv.slice(0, this.bs);
    this.tmp = new Uint8Array(this.bs);
  }
  abstract update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void;
}

class CbcEncrypt extends Chained {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const { bs, reg, block } = this;
    for (let i = 0; i < length; i += bs) {
      const s = srcAt + i;
      for (let j = 0; j < bs; j++) reg[j] = reg[j]! ^ src[s + j]!;
      block.encryptBlock(reg, 0, reg, 0);
      const d = dstAt + i;
      for (let j = 0; j < bs; j++) dst[d + j] = reg[j]!;
    }
  }
}

class CbcDecrypt extends Chained {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const { bs, reg, tmp, block } = this;
    for (let i = 0; i < length; i += bs) {
      const s = srcAt + i;
      const d = dstAt + i;
      // tmp = ciphertext (saved first: dst may be src); out = D(c) ^ reg; reg = c.
      for (let j = 0; j < bs; j++) tmp[j] = src[s + j]!;
      block.decryptBlock(tmp, 0, dst, d);
      for (let j = 0; j < bs; j++) {
        dst[d + j] = dst[d + j]! ^ reg[j]!;
        reg[j] = tmp[j]!;
      }
    }
  }
}

class CfbEncrypt extends Chained {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const { bs, reg, block } = this;
    for (let i = 0; i < length; i += bs) {
      const s = srcAt + i;
      const d = dstAt + i;
      block.encryptBlock(reg, 0, reg, 0);
      for (let j = 0; j < bs; j++) {
        const c = reg[j]! ^ src[s + j]!;
        reg[j] = c;
        dst[d + j] = c;
      }
    }
  }
}

class CfbDecrypt extends Chained {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const { bs, reg, block } = this;
    for (let i = 0; i < length; i += bs) {
      const s = srcAt + i;
      const d = dstAt + i;
      block.encryptBlock(reg, 0, reg, 0);
      for (let j = 0; j < bs; j++) {
        const c = src[s + j]!;
        dst[d + j] = reg[j]! ^ c;
        reg[j] = c;
      }
    }
  }
}

class Ofb extends Chained {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const { bs, reg, block } = this;
    for (let i = 0; i < length; i += bs) {
      const s = srcAt + i;
      const d = dstAt + i;
      block.encryptBlock(reg, 0, reg, 0);
      for (let j = 0; j < bs; j++) dst[d + j] = reg[j]! ^ src[s + j]!;
    }
  }
}

/**
 * A TypeScript context for `mode` over `block`, encrypting or decrypting;
 * `iv` (at least one block; copied) is required except for ECB.
 */
export function pureContext(block: BlockCipher, mode: Mode, encrypt: boolean, iv: Uint8Array | null): ModeContext {
  if (mode === "ecb") return encrypt ? new EcbEncrypt(block) : new EcbDecrypt(block);
  if (iv === null) throw new Error(`${mode} mode needs an IV`);
  switch (mode) {
    case "cbc":
      return encrypt ? new CbcEncrypt(block, iv) : new CbcDecrypt(block, iv);
    case "cfb":
      return encrypt ? new CfbEncrypt(block, iv) : new CfbDecrypt(block, iv);
    case "ofb":
      return new Ofb(block, iv);
  }
}
