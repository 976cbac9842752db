/** vtund's session key derivation (`prep_key`, vtun-protocol.md §6.2). */
import { md5 } from "./md5.ts";

/**
 * The `keyBytes`-byte cipher key for `password`: 16 → MD5(password); 32 →
 * MD5(first ⌊len/2⌋ bytes) ‖ MD5(the rest) (the longer half second; an empty
 * password gives MD5("") twice). A string password is taken as its UTF-8 bytes.
 */
export function deriveKey(password: string | Uint8Array, keyBytes: number): Uint8Array {
  const bytes = typeof password === "string" ? new TextEncoder().encode(password) : password;
  if (keyBytes === 16) return md5(bytes);
  if (keyBytes === 32) {
    const half = bytes.length >>> 1;
    const key = new Uint8Array(32);
    key.set(md5(bytes.subarray(0, half)), 0);
    key.set(md5(bytes.subarray(half)), 16);
    return key;
  }
  throw new RangeError(`deriveKey: vtund has no ${keyBytes}-byte keys (16 or 32)`);
}
