/**
 * Cipher contexts in C, where the runtime can reach the algorithm and mode:
 * a persistent context whose update is called once per frame continues the
 * chain exactly like vtund's never-reset EVP context.
 *
 * First choice for AES is libcrypto through FFI (when ffi/index.ts has loaded
 * it on this thread): `EVP_CipherUpdate` encrypts the frame in place, with no
 * Buffer per frame. Otherwise node:crypto: `createCipheriv`/`createDecipheriv`
 * with padding off. Bun's node:crypto has AES in all four modes and Blowfish
 * ECB/CBC/CFB (OFB is built from CBC, see below); Node 20 has AES only; Deno
 * AES ECB/CBC only. {@link nativeSupported} finds out, once per combination,
 * with a known-answer check against the TypeScript implementation.
 */
import { libCrypto, type LibCrypto } from "../../ffi/index.ts";
import type { CipherHandle } from "../../ffi/libcrypto.ts";
import { nodeCrypto } from "../runtime/builtin.ts";
import { Aes } from "./aes.ts";
import { Blowfish } from "./blowfish.ts";
import type { Algorithm } from "./ciphers.ts";
import { pureContext, type BlockCipher, type Mode, type ModeContext } from "./modes.ts";

/** The node:crypto cipher name, e.g. "aes-256-cfb" or "bf-cbc". */
export function nodeCipherName(algorithm: Algorithm, keyBytes: number, mode: Mode): string {
  return algorithm === "aes" ? `aes-${keyBytes * 8}-${mode}` : `bf-${mode}`;
}

/** A TypeScript block cipher for `algorithm` with `key`. */
export function pureBlock(algorithm: Algorithm, key: Uint8Array): BlockCipher {
  return algorithm === "aes" ? new Aes(key) : new Blowfish(key);
}

/** The part of node:crypto's Cipher/Decipher used here. */
interface NodeCipher {
  update(data: Uint8Array): Uint8Array;
  setAutoPadding(auto: boolean): unknown;
}

class NativeContext implements ModeContext {
  constructor(private readonly c: NodeCipher) {}
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    const out = this.c.update(src.subarray(srcAt, srcAt + length));
    if (out.length !== length) throw new Error(`node:crypto returned ${out.length} bytes for ${length}`);
    dst.set(out, dstAt);
  }
}

/**
 * A libcrypto EVP context. It is freed when the context object is collected
 * (a session drops its chained contexts on every resync, and at its end).
 */
class LibCryptoContext implements ModeContext {
  constructor(private readonly lib: LibCrypto, private readonly ctx: CipherHandle) {
    libCryptoContexts.register(this, { lib, ctx });
  }
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    if (!this.lib.update(this.ctx, src, srcAt, length, dst, dstAt)) throw new Error(`libcrypto: EVP_CipherUpdate of ${length} bytes failed`);
  }
}

const libCryptoContexts = new FinalizationRegistry<{ lib: LibCrypto; ctx: CipherHandle }>(({ lib, ctx }) => lib.freeCipher(ctx));

/** libcrypto, when it is loaded and `algorithm` is one we take from it (AES: Blowfish is faster in ours). */
function libCryptoFor(algorithm: Algorithm): LibCrypto | null {
  return algorithm === "aes" ? libCrypto() : null;
}

/** Which C library {@link nativeContext} uses for `algorithm` on this thread right now. */
export function nativeLibrary(algorithm: Algorithm): "libcrypto" | "node:crypto" {
  return libCryptoFor(algorithm) ? "libcrypto" : "node:crypto";
}

/**
 * OFB from a CBC context: CBC-encrypting zeros gives E(IV), E(E(IV)), ... —
 * the OFB key stream — and leaves the last key stream block as the next IV.
 * Used for Blowfish, which Bun has in CBC but not OFB.
 */
class OfbViaCbc implements ModeContext {
  private zeros = new Uint8Array(4096);
  constructor(private readonly c: NodeCipher) {}
  update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
    if (length > this.zeros.length) this.zeros = new Uint8Array(length);
    const ks = this.c.update(this.zeros.subarray(0, length));
    if (ks.length !== length) throw new Error(`node:crypto returned ${ks.length} bytes for ${length}`);
    for (let i = 0; i < length; i++) dst[dstAt + i] = src[srcAt + i]! ^ ks[i]!;
  }
}

function ivFor(name: string, iv: Uint8Array | null): Uint8Array | null {
  // OpenSSL wants no IV for ECB; Bun's BoringSSL reports (and demands) one block of it.
  const ivLength = nodeCrypto().getCipherInfo(name)?.ivLength ?? 0;
  if (ivLength === 0) return null;
  if (iv === null) return new Uint8Array(ivLength);
  if (iv.length < ivLength) throw new RangeError(`${name}: IV of ${iv.length} bytes, need ${ivLength}`);
  return iv.subarray(0, ivLength);
}

function rawNative(name: string, key: Uint8Array, iv: Uint8Array | null, encrypt: boolean): NodeCipher {
  const i = ivFor(name, iv);
  const crypto = nodeCrypto();
  const c: NodeCipher = encrypt ? crypto.createCipheriv(name, key, i) : crypto.createDecipheriv(name, key, i);
  c.setAutoPadding(false);
  return c;
}

/**
 * A node:crypto context for `mode`, or throws if the runtime lacks it (use
 * {@link nativeSupported} first). `iv` is copied; null for ECB.
 */
export function nativeContext(
  algorithm: Algorithm,
  key: Uint8Array,
  mode: Mode,
  encrypt: boolean,
  iv: Uint8Array | null,
): ModeContext {
  const name = nodeCipherName(algorithm, key.length, mode);
  const lib = libCryptoFor(algorithm);
  if (lib) {
    // EVP_CIPHER_fetch matches names case-insensitively: "aes-128-cbc" is OpenSSL's AES-128-CBC.
    const ctx = lib.newCipher(name, key, iv, encrypt);
    if (ctx === 0) throw new Error(`libcrypto: no ${name}`);
    return new LibCryptoContext(lib, ctx);
  }
  if (mode === "ofb" && !hasCipher(name)) {
    // Key stream from CBC over zeros: the same context for both directions.
    return new OfbViaCbc(rawNative(nodeCipherName(algorithm, key.length, "cbc"), key, iv, true));
  }
  return new NativeContext(rawNative(name, key, iv, encrypt));
}

let cipherList: Set<string> | null = null;
function hasCipher(name: string): boolean {
  cipherList ??= new Set(nodeCrypto().getCiphers().map((c) => c.toLowerCase()));
  return cipherList.has(name);
}

const supportCache = new Map<string, boolean>();

/**
 * Whether node:crypto can run `mode` of `algorithm` with `keyBytes`-byte keys
 * here, giving the same bytes as the TypeScript implementation (checked once
 * per combination: two chained updates each way with a fixed irregular key).
 */
export function nativeSupported(algorithm: Algorithm, keyBytes: number, mode: Mode): boolean {
  const id = `${nativeLibrary(algorithm)}/${algorithm}/${keyBytes}/${mode}`;
  let ok = supportCache.get(id);
  if (ok === undefined) {
    ok = probe(algorithm, keyBytes, mode);
    supportCache.set(id, ok);
  }
  return ok;
}

function probe(algorithm: Algorithm, keyBytes: number, mode: Mode): boolean {
  try {
    const key = new Uint8Array(keyBytes);
    for (let i = 0; i < keyBytes; i++) key[i] = (i * 167 + 13) & 0xff;
    const block = pureBlock(algorithm, key);
    const bs = block.blockSize;
    const iv = mode === "ecb" ? null : new Uint8Array(bs).map((_, i) => (i * 29 + 7) & 0xff);
    const plain = new Uint8Array(5 * bs).map((_, i) => (i * 53 + 1) & 0xff);
    const expected = new Uint8Array(plain.length);
    pureContext(block, mode, true, iv).update(plain, 0, plain.length, expected, 0);
    const got = new Uint8Array(plain.length);
    const enc = nativeContext(algorithm, key, mode, true, iv);
    enc.update(plain, 0, 2 * bs, got, 0);
    enc.update(plain, 2 * bs, 3 * bs, got, 2 * bs);
    if (!equal(got, expected)) return false;
    const back = new Uint8Array(plain.length);
    const dec = nativeContext(algorithm, key, mode, false, iv);
    dec.update(expected, 0, 3 * bs, back, 0);
    dec.update(expected, 3 * bs, 2 * bs, back, 3 * bs);
    return equal(back, plain);
  } catch {
    return false;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
