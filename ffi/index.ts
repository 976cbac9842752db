/**
 * Picks the {@link Libc} backend of the runtime we are running on. This is the
 * only place that knows which runtime is underneath.
 */
import type { Libc } from "./libc.ts";

export type { Libc } from "./libc.ts";
export type { LibCrypto } from "./libcrypto.ts";
import type { LibCrypto } from "./libcrypto.ts";
export type { LibLzo } from "./liblzo.ts";
import type { LibLzo } from "./liblzo.ts";

/** The JavaScript runtimes vtunts runs on. */
export type Runtime = "bun" | "deno" | "node";

/** The JavaScript runtime executing this code. */
export function detectRuntime(): Runtime {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}

let cached: Libc | undefined;

/**
 * Module specifiers of the Deno and Node backends, resolved at run time so that
 * `bun build --compile` does not bundle them (nor koffi's native addon). They
 * end as this module does: `.ts` from source, `.js` in the JavaScript that
 * scripts/run compiles for Node (tsc rewrites only static specifiers).
 */
const OWN_EXTENSION = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const DENO_BACKEND = `./deno${OWN_EXTENSION}`;
const NODE_BACKEND = `./node${OWN_EXTENSION}`;

/** Creates the backend for `runtime` (tests use this to check each one). */
export async function createLibc(runtime: Runtime = detectRuntime()): Promise<Libc> {
  switch (runtime) {
    case "bun": {
      const { createBunLibc } = await import("./bun.ts");
      return createBunLibc();
    }
    case "deno": {
      const { createDenoLibc } = (await import(new URL(DENO_BACKEND, import.meta.url).href)) as typeof import("./deno.ts");
      return createDenoLibc();
    }
    case "node": {
      const { createNodeLibc } = (await import(new URL(NODE_BACKEND, import.meta.url).href)) as typeof import("./node.ts");
      return createNodeLibc();
    }
  }
}

/** The libc backend for this thread (created on first use, then reused). */
export async function loadLibc(): Promise<Libc> {
  cached ??= await createLibc();
  return cached;
}

/**
 * An optional C library that only the Bun backend loads (for now): `load()`
 * loads it once per thread, then `get()` answers synchronously; null on other
 * runtimes and where the library is missing.
 */
function bunOnlyLibrary<T>(createBun: () => Promise<T | null>): { load(): Promise<T | null>; get(): T | null } {
  let loaded: T | null | undefined;
  return {
    async load() {
      if (loaded === undefined) loaded = detectRuntime() === "bun" ? await createBun() : null;
      return loaded;
    },
    get: () => loaded ?? null,
  };
}

const libCryptoLibrary = bunOnlyLibrary(async () => (await import("./libcrypto_bun.ts")).createBunLibCrypto());
const libLzoLibrary = bunOnlyLibrary(async () => (await import("./liblzo_bun.ts")).createBunLibLzo());

/**
 * Loads libcrypto for this thread (Bun only for now; elsewhere, and where the
 * library is missing, null: node:crypto does the work then). Call before
 * building a cipher stage; {@link libCrypto} then answers synchronously.
 */
export function loadLibCrypto(): Promise<LibCrypto | null> {
  return libCryptoLibrary.load();
}

/** libcrypto if {@link loadLibCrypto} has loaded it on this thread, else null. */
export function libCrypto(): LibCrypto | null {
  return libCryptoLibrary.get();
}

/**
 * Loads liblzo2 for this thread (Bun only for now; elsewhere, and where the
 * library is missing, null: the TypeScript LZO1X does the work then). Call
 * before building an LZO stage; {@link libLzo} then answers synchronously.
 */
export function loadLibLzo(): Promise<LibLzo | null> {
  return libLzoLibrary.load();
}

/** liblzo2 if {@link loadLibLzo} has loaded it on this thread, else null. */
export function libLzo(): LibLzo | null {
  return libLzoLibrary.get();
}
