/**
 * Chooses, per session, where the cipher contexts come from: node:crypto when
 * the runtime has the algorithm and mode (checked once) and is the faster of
 * the two (see {@link PURE_IS_FASTER}), else the TypeScript implementations.
 * Never falls back to "no encryption".
 */
import type { Algorithm } from "./ciphers.ts";
import { pureContext, type BlockCipher, type Mode, type ModeContext } from "./modes.ts";
import { nativeContext, nativeSupported, pureBlock } from "./native.ts";
import { detectRuntime } from "../../ffi/index.ts";

const ON_BUN = detectRuntime() === "bun";

/**
 * "auto": node:crypto where it works and is faster (see {@link PURE_IS_FASTER}), else TypeScript;
 * "native": node:crypto only, fails if node:crypto lacks something; "pure": TypeScript only.
 */
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

/**
 * The algorithm/mode pairs for which "auto" takes the TypeScript
 * implementation even where node:crypto has it, because ours measured faster
 * in every runtime whose node:crypto has the cipher at all.
 *
 * - `blowfish/ecb`: the bulk path (Blowfish.encryptEcbInto: four blocks
 *   interleaved) against node:crypto's bf-ecb (plain C, one block at a time,
 *   plus a new output Buffer per update). ns per packet, encrypt/decrypt,
 *   fastest of 20 samples of scripts/lib/bench-blowfish.ts, 2-core AMD EPYC:
 *   Bun 1.4.5 (BoringSSL): 1400 B 8580/8560 native vs 4850/4810 ours,
 *   64 B 520/520 vs 260/260; Node 20 with --openssl-legacy-provider
 *   (OpenSSL 3): 1400 B 8130/8090 vs 6430/6410, 64 B 830/840 vs 350/350.
 *   Deno 2.9 and plain Node 20 have no Blowfish in node:crypto.
 *   On the 2-core Intel Xeon, Bun with the module-level S-boxes of
 *   blowfish.ts: 1400 B 4810/4800 native vs 3200/3190 ours.
 *
 * Not listed: AES (AES-NI), and the chained Blowfish modes, see
 * {@link PURE_IS_FASTER_ON_BUN}.
 */
const PURE_IS_FASTER: ReadonlySet<string> = new Set(["blowfish/ecb"]);

/**
 * The chained Blowfish modes, where ours beats Bun's BoringSSL but not
 * Node's OpenSSL (with its legacy provider, OpenSSL's serial CBC encryption
 * and OFB take 9.1 µs per 1400 B against our 10.9). Bun, 1400 B, ns per
 * packet encrypt/decrypt, native vs ours (scripts/lib/bench-blowfish.ts
 * --chained): CBC 11160/8820 vs 10420/5390, CFB 12300/12350 vs 10490/5470,
 * OFB 12090/12190 vs 10490/10470.
 */
const PURE_IS_FASTER_ON_BUN: ReadonlySet<string> = new Set(["blowfish/cbc", "blowfish/cfb", "blowfish/ofb"]);

function pick(algorithm: Algorithm, keyBytes: number, mode: Mode, backend: CipherBackend): "native" | "pure" {
  if (backend === "pure") return "pure";
  const pair = `${algorithm}/${mode}`;
  if (backend === "auto" && (PURE_IS_FASTER.has(pair) || (ON_BUN && PURE_IS_FASTER_ON_BUN.has(pair)))) return "pure";
  const ok = nativeSupported(algorithm, keyBytes, mode);
  if (ok) return "native";
  if (backend === "native") {
    throw new Error(`node:crypto in this runtime cannot do ${algorithm}-${keyBytes * 8}-${mode} (use backend "auto" or "pure")`);
  }
  return "pure";
}
