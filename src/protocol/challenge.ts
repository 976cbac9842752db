/**
 * The challenge/response of vtund's authentication.
 *
 * The server sends 16 random bytes; the client proves it knows the password by
 * returning them encrypted with Blowfish-ECB under the key MD5(password). On the
 * wire both travel as text: "<" + one letter 'a'..'p' per 4-bit nibble + ">".
 */
import { Blowfish } from "../crypto/blowfish.ts";
import { md5 } from "../crypto/md5.ts";

/** Length of the challenge in bytes (VTUN_CHAL_SIZE). */
export const CHALLENGE_SIZE = 16;

/** Encodes challenge bytes as vtund text: `<` + 32 letters `a`..`p` (high nibble first) + `>`. */
export function encodeChallenge(bytes: Uint8Array): string {
  let text = "<";
  for (const b of bytes) text += String.fromCharCode(0x61 + (b >> 4), 0x61 + (b & 0x0f));
  return `${text}>`;
}

/**
 * Decodes the challenge text found in a handshake line (the part between the
 * first `<` and the next `>`). Returns null unless it is exactly 32 letters `a`..`p`.
 */
export function decodeChallenge(line: string): Uint8Array | null {
  const open = line.indexOf("<");
  if (open < 0) return null;
  const close = line.indexOf(">", open + 1);
  if (close < 0) return null;
  const text = line.slice(open + 1, close);
  if (text.length !== CHALLENGE_SIZE * 2) return null;
  const bytes = new Uint8Array(CHALLENGE_SIZE);
  for (let i = 0; i < CHALLENGE_SIZE; i++) {
    const hi = text.charCodeAt(2 * i) - 0x61;
    const lo = text.charCodeAt(2 * i + 1) - 0x61;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return null;
    bytes[i] = (hi << 4) | lo;
  }
  return bytes;
}

/** The response vtund expects for `challenge`: Blowfish-ECB(MD5(password), challenge). */
export function challengeResponse(challenge: Uint8Array, password: string): Uint8Array {
  return new Blowfish(md5(password)).encryptEcb(challenge);
}

/** Compares two byte arrays in time independent of where they differ. */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
