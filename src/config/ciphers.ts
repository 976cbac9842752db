/**
 * vtund's cipher names and numbers (`encrypt NAME;`, and the number after `E`
 * in the FLAGS string). `encrypt yes` means 1 (blowfish128ecb); 999 is vtun
 * 2.x's legacy Blowfish (bare `E` on the wire). This is only the name table
 * the configuration needs; the ciphers themselves live in src/crypto/.
 */

/** Cipher number of vtun 2.x's legacy Blowfish-128-ECB (`oldblowfish128ecb`). */
export const LEGACY_CIPHER_NUMBER = 999;

/** Cipher names in vtund's order, with their numbers. */
export const CIPHERS: readonly (readonly [name: string, number: number])[] = [
  ["blowfish128ecb", 1],
  ["blowfish128cbc", 2],
  ["blowfish128cfb", 3],
  ["blowfish128ofb", 4],
  ["blowfish256ecb", 5],
  ["blowfish256cbc", 6],
  ["blowfish256cfb", 7],
  ["blowfish256ofb", 8],
  ["aes128ecb", 9],
  ["aes128cbc", 10],
  ["aes128cfb", 11],
  ["aes128ofb", 12],
  ["aes256ecb", 13],
  ["aes256cbc", 14],
  ["aes256cfb", 15],
  ["aes256ofb", 16],
  ["oldblowfish128ecb", LEGACY_CIPHER_NUMBER],
];

const BY_NAME = new Map<string, number>(CIPHERS);
const BY_NUMBER = new Map<number, string>(CIPHERS.map(([name, n]) => [n, name]));

/** The number of cipher `name` (exact, lower case), or null if vtund has no such cipher. */
export function cipherNumber(name: string): number | null {
  return BY_NAME.get(name) ?? null;
}

/** The name of cipher number `n`, or null if vtund has no such cipher. */
export function cipherName(n: number): string | null {
  return BY_NUMBER.get(n) ?? null;
}
