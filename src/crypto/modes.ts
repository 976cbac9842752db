/**
 * Block cipher modes (ECB, CBC, full-block CFB, OFB) in TypeScript on top of
 * a block primitive, with the semantics of an OpenSSL EVP context that is
 * never reset: each `update()` continues the chain of the previous one (CBC
 * IV = last ciphertext block, CFB/OFB feedback register carried over). Inputs
 * are always whole blocks, so no partial-block state is needed.
 *
 * A cipher may also offer bulk methods (optional members of
 * {@link BlockCipher}; Blowfish does): then ECB, CBC/CFB decryption (through
 * bulk ECB) and the serial modes run a whole update per call instead of one
 * call per block.
 */

/** A block cipher with an expanded key (Blowfish or AES). */
export interface BlockCipher {
  /** Block size in bytes (8 or 16). */
  readonly blockSize: number;
  /** Encrypts one block at `src[srcAt]` into `dst[dstAt]`; the two may be the same place. */
  encryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void;
  /** Decrypts one block at `src[srcAt]` into `dst[dstAt]`; the two may be the same place. */
  decryptBlock(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number): void;
  /**
   * Optional bulk ECB: encrypts `length` bytes (whole blocks) at `src[srcAt]`
   * into `dst[dstAt…]`, in place or with `dstAt <= srcAt` in the same buffer.
   * Blowfish has it (much faster than a call per block); AES does not.
   */
  encryptEcbInto?(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void;
  /** Optional bulk ECB decryption, like {@link encryptEcbInto}. */
  decryptEcbInto?(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void;
  /**
   * Optional bulk form of the serial chained modes, the ones that cannot use
   * bulk ECB: CBC encryption, CFB encryption, and OFB (both directions), over
   * whole blocks, continuing from the feedback register `reg` (one block,
   * updated for the next call). Same in-place and overlap rules as
   * {@link encryptEcbInto}.
   */
  chainEncryptInto?(mode: "cbc" | "cfb" | "ofb", reg: Uint8Array, src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void;
}

/**
 * A DataView over the whole buffer of the last byte array asked for, kept
 * while the same buffer comes back. The bulk paths read and write 32-bit
 * big-endian words through DataViews, are called with the same packet
 * buffers over and over, and a new DataView per call is a measurable part of
 * a short packet's cost. Index the view with `bytes.byteOffset + at`. Holds
 * on to that one buffer until another one is asked for.
 */
export class ViewCache {
  private buffer: ArrayBufferLike | null = null;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /** A DataView over `bytes.buffer` (all of it). */
  of(bytes: Uint8Array): DataView<ArrayBufferLike> {
    if (bytes.buffer !== this.buffer) {
      this.view = new DataView(bytes.buffer);
      this.buffer = bytes.buffer;
    }
    return this.view;
  }
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

/** A block cipher with both bulk ECB methods. */
type BulkBlockCipher = BlockCipher & Required<Pick<BlockCipher, "encryptEcbInto" | "decryptEcbInto">>;

function hasBulkEcb(block: BlockCipher): block is BulkBlockCipher {
  return block.encryptEcbInto !== undefined && block.decryptEcbInto !== undefined;
}

/** A block cipher with the bulk serial modes. */
type ChainBlockCipher = BlockCipher & Required<Pick<BlockCipher, "chainEncryptInto">>;

function hasBulkChain(block: BlockCipher): block is ChainBlockCipher {
  return block.chainEncryptInto !== undefined;
}

// Bulk ECB contexts: one call per update instead of one per block.
class EcbBulkEncrypt implements ModeContext {
  constructor(private readonly block: BulkBlockCipher) {}
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    this.block.encryptEcbInto(src, srcAt, length, dst, dstAt);
  }
}

class EcbBulkDecrypt implements ModeContext {
  constructor(private readonly block: BulkBlockCipher) {}
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    this.block.decryptEcbInto(src, srcAt, length, dst, dstAt);
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
 * Base of the bulk decrypting CBC/CFB contexts: a scratch buffer that grows
 * to the largest update, and cached views, so that an update allocates
 * nothing (the data path's buffers all live in one ArrayBuffer per thread,
 * see src/bytes.ts, so the views are made once).
 */
abstract class ChainedBulk extends Chained {
  private scratch = new Uint8Array(2048);
  private readonly scratchViews = new ViewCache();
  private readonly srcViews = new ViewCache();
  private readonly dstViews = new ViewCache();
  /** The feedback register as 32-bit words. */
  private readonly regView: DataView;
  constructor(protected override readonly block: BulkBlockCipher, iv: Uint8Array) {
    super(block, iv);
    this.regView = new DataView(this.reg.buffer, this.reg.byteOffset, this.bs);
  }

  /** The scratch buffer, at least `length` bytes. */
  protected room(length: number): Uint8Array {
    if (this.scratch.length < length) this.scratch = new Uint8Array(length);
    return this.scratch;
  }

  /**
   * `dst[dstAt…] = k[0…] ^ x` for `length` bytes, a 32-bit word at a time,
   * where x is the register followed by `src[srcAt…]` (CBC: one block behind)
   * or `src[srcAt…]` itself (CFB); CBC also carries the register along to the
   * last ciphertext block. Each source word is read before the destination
   * word at the same offset is written, so `dst` may be `src`, or start
   * before it in the same buffer.
   */
  protected xorOut(cbc: boolean, k: Uint8Array, src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const bs = this.bs;
    const rv = this.regView;
    const kv = this.scratchViews.of(k);
    const sv = this.srcViews.of(src);
    const dv = this.dstViews.of(dst);
    const ka = k.byteOffset;
    const sa = src.byteOffset + srcAt;
    const da = dst.byteOffset + dstAt;
    // Little-endian: byte order does not matter for XOR, and it saves a byte swap on x86 and arm64.
    if (!cbc) {
      for (let i = 0; i < length; i += 4) dv.setInt32(da + i, kv.getInt32(ka + i, true) ^ sv.getInt32(sa + i, true), true);
      return;
    }
    // CBC: the previous ciphertext block in locals (2 words for Blowfish, 4 for AES), each block read whole before it is written.
    const wide = bs === 16;
    let p0 = rv.getInt32(0, true);
    let p1 = rv.getInt32(4, true);
    let p2 = wide ? rv.getInt32(8, true) : 0;
    let p3 = wide ? rv.getInt32(12, true) : 0;
    for (let i = 0; i < length; i += bs) {
      const a = sa + i;
      const o = da + i;
      const q = ka + i;
      const c0 = sv.getInt32(a, true);
      const c1 = sv.getInt32(a + 4, true);
      const c2 = wide ? sv.getInt32(a + 8, true) : 0;
      const c3 = wide ? sv.getInt32(a + 12, true) : 0;
      dv.setInt32(o, kv.getInt32(q, true) ^ p0, true);
      dv.setInt32(o + 4, kv.getInt32(q + 4, true) ^ p1, true);
      if (wide) {
        dv.setInt32(o + 8, kv.getInt32(q + 8, true) ^ p2, true);
        dv.setInt32(o + 12, kv.getInt32(q + 12, true) ^ p3, true);
      }
      p0 = c0;
      p1 = c1;
      p2 = c2;
      p3 = c3;
    }
    rv.setInt32(0, p0, true);
    rv.setInt32(4, p1, true);
    if (wide) {
      rv.setInt32(8, p2, true);
      rv.setInt32(12, p3, true);
    }
  }
}

/**
 * CBC decryption through bulk ECB: P_i = D(C_i) ^ C_{i-1}, and the D(C_i)
 * are independent, so they all go through the cipher's bulk (interleaved)
 * path at once, into the scratch; the XOR pass then reads each C_i before it
 * may be overwritten and keeps it as the next C_{i-1}.
 */
class CbcDecryptBulk extends ChainedBulk {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    if (length === 0) return;
    const k = this.room(length);
    this.block.decryptEcbInto(src, srcAt, length, k, 0);
    this.xorOut(true, k, src, srcAt, length, dst, dstAt);
  }
}

/**
 * CFB decryption through bulk ECB: P_i = E(C_{i-1}) ^ C_i, and all the
 * C_{i-1} are known up front: E(reg) first, then E(C_0 … C_{n-2}) at once.
 */
class CfbDecryptBulk extends ChainedBulk {
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    if (length === 0) return;
    const { bs, reg } = this;
    const k = this.room(length);
    this.block.encryptBlock(reg, 0, k, 0);
    this.block.encryptEcbInto(src, srcAt, length - bs, k, bs);
    // The next register is the last ciphertext block: taken before dst may overwrite it.
    const lastAt = srcAt + length - bs;
    for (let j = 0; j < bs; j++) reg[j] = src[lastAt + j]!;
    this.xorOut(false, k, src, srcAt, length, dst, dstAt);
  }
}

/** CBC encryption, CFB encryption or OFB through the cipher's {@link BlockCipher.chainEncryptInto}. */
class ChainSerialBulk extends Chained {
  constructor(
    protected override readonly block: ChainBlockCipher,
    private readonly mode: "cbc" | "cfb" | "ofb",
    iv: Uint8Array,
  ) {
    super(block, iv);
  }
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    this.block.chainEncryptInto(this.mode, this.reg, src, srcAt, length, dst, dstAt);
  }
}

/**
 * A TypeScript context for `mode` over `block`, encrypting or decrypting;
 * `iv` (at least one block; copied) is required except for ECB.
 */
export function pureContext(block: BlockCipher, mode: Mode, encrypt: boolean, iv: Uint8Array | null): ModeContext {
  if (mode === "ecb") {
    if (hasBulkEcb(block)) return encrypt ? new EcbBulkEncrypt(block) : new EcbBulkDecrypt(block);
    return encrypt ? new EcbEncrypt(block) : new EcbDecrypt(block);
  }
  if (iv === null) throw new Error(`${mode} mode needs an IV`);
  // Bulk paths where the cipher has them (Blowfish), one block at a time otherwise (AES).
  if (hasBulkChain(block) && (encrypt || mode === "ofb")) return new ChainSerialBulk(block, mode, iv);
  switch (mode) {
    case "cbc":
      if (encrypt) return new CbcEncrypt(block, iv);
      return hasBulkEcb(block) ? new CbcDecryptBulk(block, iv) : new CbcDecrypt(block, iv);
    case "cfb":
      if (encrypt) return new CfbEncrypt(block, iv);
      return hasBulkEcb(block) ? new CfbDecryptBulk(block, iv) : new CfbDecrypt(block, iv);
    case "ofb":
      return new Ofb(block, iv);
  }
}
