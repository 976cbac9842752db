/**
 * Chooses, per session, where the cipher contexts come from: node:crypto when
 * the runtime has the algorithm and mode (checked once), else the TypeScript
 * implementations. Never falls back to "no encryption".
 */
import type { Algorithm } from "./ciphers.ts";
import { pureContext, type BlockCipher, type Mode, type ModeContext } from "./modes.ts";
import { nativeContext, nativeSupported, pureBlock } from "./native.ts";

/** "auto": node:crypto where it works, else TypeScript; "native" fails if node:crypto lacks something; "pure": TypeScript only. */
export type CipherBackend = "auto" | "native" | "pure";

/** Makes the cipher contexts of one session (one key). */
export class CipherEngine {
  /** Which implementation the ECB contexts use. */
  readonly ecbBackend: "native" | "pure";
  /** Which implementation {@link mode} contexts use (null when no chained mode was asked for). */
  readonly modeBackend: "native" | "pure" | null;
  private block: BlockCipher | null = null;

  /**
   * `mode` is the chained mode the session will create contexts for (null for
   * ECB-only ciphers). Throws if `backend` is "native" and node:crypto cannot
   * do what is needed.
   */
  constructor(
    readonly algorithm: Algorithm,
    private readonly key: Uint8Array,
    private readonly chained: Exclude<Mode, "ecb"> | null,
    backend: CipherBackend,
  ) {
    this.ecbBackend = pick(algorithm, key.length, "ecb", backend);
    this.modeBackend = chained === null ? null : pick(algorithm, key.length, chained, backend);
  }

  /** The TypeScript block cipher (key schedule computed on first use). */
  private pure(): BlockCipher {
    this.block ??= pureBlock(this.algorithm, this.key);
    return this.block;
  }

  /** A fresh ECB context (stateless between blocks). */
  ecb(encrypt: boolean): ModeContext {
    return this.ecbBackend === "native"
      ? nativeContext(this.algorithm, this.key, "ecb", encrypt, null)
      : pureContext(this.pure(), "ecb", encrypt, null);
  }

  /** A fresh context of the session's chained mode, starting from `iv` (copied). */
  mode(encrypt: boolean, iv: Uint8Array): ModeContext {
    if (this.chained === null || this.modeBackend === null) throw new Error("this cipher has no chained mode");
    return this.modeBackend === "native"
      ? nativeContext(this.algorithm, this.key, this.chained, encrypt, iv)
      : pureContext(this.pure(), this.chained, encrypt, iv);
  }
}

function pick(algorithm: Algorithm, keyBytes: number, mode: Mode, backend: CipherBackend): "native" | "pure" {
  if (backend === "pure") return "pure";
  const ok = nativeSupported(algorithm, keyBytes, mode);
  if (ok) return "native";
  if (backend === "native") {
    throw new Error(`node:crypto in this runtime cannot do ${algorithm}-${keyBytes * 8}-${mode} (use backend "auto" or "pure")`);
  }
  return "pure";
}
