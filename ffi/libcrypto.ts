/**
 * The second C library vtunts may use: OpenSSL's libcrypto, for cipher
 * contexts that encrypt straight from one of our buffers into another.
 *
 * node:crypto's `update()` returns a new Buffer for every frame, which the
 * data path then copies into place; at a few hundred thousand frames a second
 * that is garbage the collector has to chase (in Bun it doubled a session's
 * private memory) and a copy per frame. `EVP_CipherUpdate` through FFI writes
 * into the frame itself, in place. libcrypto is optional: where it cannot be
 * loaded, node:crypto (or our TypeScript ciphers) do the work.
 */

/** An EVP_CIPHER_CTX of libcrypto, as the FFI hands it out (never 0). */
export type CipherHandle = number;

/** The EVP cipher calls vtunts makes. */
export interface LibCrypto {
  /**
   * A new context for the OpenSSL cipher `name` (e.g. "AES-128-CBC") with
   * `key`, `iv` (null for ECB) and padding off, or 0 when libcrypto does not
   * have that cipher or refuses the key. Free it with {@link freeCipher}.
   */
  newCipher(name: string, key: Uint8Array, iv: Uint8Array | null, encrypt: boolean): CipherHandle;
  /**
   * `EVP_CipherUpdate` of `src[srcAt, srcAt+length)` (whole blocks) into
   * `dst[dstAt…]`; the two may be the same bytes. False if libcrypto failed
   * or wrote a different length.
   */
  update(ctx: CipherHandle, src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): boolean;
  /** Frees a context from {@link newCipher}. */
  freeCipher(ctx: CipherHandle): void;
}

/** The file names tried, newest ABI first. */
export const LIBCRYPTO_NAMES = ["libcrypto.so.3", "libcrypto.so"];
