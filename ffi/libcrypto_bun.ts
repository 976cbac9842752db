/**
 * The Bun backend of {@link LibCrypto}: libcrypto through `bun:ffi`. Buffers
 * are passed as pointers, nothing is copied; `update` remembers its buffers'
 * addresses (see `bun_address.ts`).
 */
import { FFIType, ptr, type Pointer } from "bun:ffi";
import { addressCache, dlopenFirst, STABLE_BYTES } from "./bun_address.ts";
import { LIBCRYPTO_NAMES, type CipherHandle, type LibCrypto } from "./libcrypto.ts";

const { i32, ptr: pointer } = FFIType;

const SYMBOLS = {
  EVP_CIPHER_fetch: { args: [pointer, pointer, pointer], returns: pointer },
  EVP_CIPHER_get_key_length: { args: [pointer], returns: i32 },
  EVP_CIPHER_get_iv_length: { args: [pointer], returns: i32 },
  EVP_CIPHER_CTX_new: { args: [], returns: pointer },
  EVP_CIPHER_CTX_free: { args: [pointer], returns: FFIType.void },
  EVP_CIPHER_CTX_set_padding: { args: [pointer, i32], returns: i32 },
  EVP_CipherInit_ex: { args: [pointer, pointer, pointer, pointer, pointer, i32], returns: i32 },
  EVP_CipherUpdate: { args: [pointer, pointer, pointer, pointer, i32], returns: i32 },
} as const;

/** Loads libcrypto, or returns null when this machine has none (or an older ABI than OpenSSL 3). */
export function createBunLibCrypto(): LibCrypto | null {
  const lib = dlopenFirst(LIBCRYPTO_NAMES, SYMBOLS);
  if (lib === null) return null;
  const c = lib.symbols;
  const encoder = new TextEncoder();
  // Fetched ciphers are kept for the life of the thread: a handful at most.
  const ciphers = new Map<string, Pointer | 0>();
  // EVP_CipherUpdate's output length, in storage of its own that never moves (a small typed
  // array's can: a pointer to one kept across calls went stale, seen as outLength never changing).
  const outLength = new Int32Array(new ArrayBuffer(STABLE_BYTES), 0, 1);
  const outLengthAt = ptr(outLength);
  const srcAddress = addressCache(), dstAddress = addressCache();

  function fetch(name: string): Pointer | 0 {
    let cipher = ciphers.get(name);
    if (cipher === undefined) {
      cipher = (c.EVP_CIPHER_fetch(null, encoder.encode(`${name}\0`), null) as Pointer | null) ?? 0;
      ciphers.set(name, cipher);
    }
    return cipher;
  }

  return {
    newCipher(name, key, iv, encrypt): CipherHandle {
      const cipher = fetch(name);
      if (cipher === 0 || c.EVP_CIPHER_get_key_length(cipher) !== key.length) return 0;
      const ivLength = c.EVP_CIPHER_get_iv_length(cipher);
      if (ivLength > 0 && (iv === null || iv.length < ivLength)) return 0;
      const ctx = (c.EVP_CIPHER_CTX_new() as Pointer | null) ?? 0;
      if (ctx === 0) return 0;
      // Copies: the FFI is handed a buffer of its own, never a view with an offset.
      const ok = c.EVP_CipherInit_ex(ctx, cipher, null, key.slice(), ivLength > 0 ? iv!.slice(0, ivLength) : null, encrypt ? 1 : 0) === 1 &&
        c.EVP_CIPHER_CTX_set_padding(ctx, 0) === 1;
      if (!ok) {
        c.EVP_CIPHER_CTX_free(ctx);
        return 0;
      }
      return ctx as number;
    },
    update(ctx, src, srcAt, length, dst, dstAt): boolean {
      return c.EVP_CipherUpdate(ctx as Pointer, dstAddress(dst, dstAt), outLengthAt, srcAddress(src, srcAt), length) === 1 &&
        outLength[0] === length;
    },
    freeCipher(ctx): void {
      c.EVP_CIPHER_CTX_free(ctx as Pointer);
    },
  };
}
