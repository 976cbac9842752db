/**
 * vtund's cipher table (the number after `E` in the FLAGS string, and the
 * `encrypt` keywords of vtund.conf): which algorithm, mode, block size and key
 * size each number means. See vtun-protocol.md §6.1.
 */
import type { Mode } from "./modes.ts";

/** The block ciphers vtund uses. */
export type Algorithm = "blowfish" | "aes";

/** How a cipher frames its data: ECB per frame, vtun 2.x legacy ECB, or a chained mode with the ivec side-band. */
export type CipherMode = Mode | "legacy";

/** One row of the cipher table. */
export interface CipherInfo {
  /** The cipher number (`E<n>`; 999 = vtun 2.x legacy, bare `E` on the wire). */
  readonly number: number;
  /** The vtund.conf keyword, e.g. "aes128cbc". */
  readonly name: string;
  /** The block cipher. */
  readonly algorithm: Algorithm;
  /** The mode; "cfb" is full-block CFB (CFB64 for Blowfish, CFB128 for AES). */
  readonly mode: CipherMode;
  /** Block size in bytes. */
  readonly blockSize: 8 | 16;
  /** Key size in bytes (see deriveKey). */
  readonly keyBytes: 16 | 32;
  /** True for the chained modes, which send the "ivec" header and seq# blocks. */
  readonly sideband: boolean;
  /** OpenSSL-style name vtund logs, e.g. "AES-128-CBC" ("... encryption initialized"). */
  readonly label: string;
}

/** vtund's internal number for the vtun 2.x Blowfish cipher (bare `E` in FLAGS). */
export const LEGACY_CIPHER = 999;

/** The default cipher: `encrypt yes` and anything a client does not know. */
export const DEFAULT_CIPHER = 1;

function table(): Map<number, CipherInfo> {
  const rows = new Map<number, CipherInfo>();
  const modes: readonly Mode[] = ["ecb", "cbc", "cfb", "ofb"];
  const algos = [
    { algorithm: "blowfish", prefix: "blowfish", label: "Blowfish", blockSize: 8 },
    { algorithm: "aes", prefix: "aes", label: "AES", blockSize: 16 },
  ] as const;
  let n = 1;
  for (const a of algos) {
    for (const keyBytes of [16, 32] as const) {
      for (const mode of modes) {
        rows.set(n, {
          number: n,
          name: `${a.prefix}${keyBytes * 8}${mode}`,
          algorithm: a.algorithm,
          mode,
          blockSize: a.blockSize,
          keyBytes,
          sideband: mode !== "ecb",
          label: `${a.label}-${keyBytes * 8}-${mode.toUpperCase()}`,
        });
        n++;
      }
    }
  }
  rows.set(LEGACY_CIPHER, {
    number: LEGACY_CIPHER,
    name: "oldblowfish128ecb",
    algorithm: "blowfish",
    mode: "legacy",
    blockSize: 8,
    keyBytes: 16,
    sideband: false,
    label: "Blowfish-128-ECB (vtun 2.x)",
  });
  return rows;
}

/** Every cipher vtund knows, by number: 1–16 as in §6.1, and 999 (legacy). */
export const CIPHERS: ReadonlyMap<number, CipherInfo> = table();

/**
 * The cipher number for a vtund.conf `encrypt` value: a cipher keyword
 * (exact, case-sensitive like vtund's lexer), "yes" (= 1), or the decimal
 * number of a known cipher. Undefined for anything else, "no" included.
 */
export function cipherByName(name: string): number | undefined {
  if (name === "yes") return DEFAULT_CIPHER;
  if (/^[0-9]+$/.test(name)) {
    const n = Number.parseInt(name, 10);
    return CIPHERS.has(n) ? n : undefined;
  }
  for (const info of CIPHERS.values()) if (info.name === name) return info.number;
  return undefined;
}

/** The keyword of cipher `n` (e.g. 10 → "aes128cbc"), or undefined if the number is not in the table. */
export function cipherName(n: number): string | undefined {
  return CIPHERS.get(n)?.name;
}

/**
 * The cipher vtund actually runs for number `n`: `n` itself if it is in the
 * table, else Blowfish-128-ECB (the default branch of vtund's cipher switch,
 * which a client reaches for any unknown `E<n>`). A bare `E` / `E0` is the
 * legacy cipher — the FLAGS parser maps those to 999 before this.
 */
export function effectiveCipher(n: number): number {
  return CIPHERS.has(n) ? n : DEFAULT_CIPHER;
}
