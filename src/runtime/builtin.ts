/**
 * Node built-in modules loaded on first use instead of at start-up.
 *
 * node:crypto and node:zlib are large JavaScript modules in every runtime,
 * and each thread (JavaScript heap) that imports them pays for them: in Bun,
 * importing both cost ~7.5 MiB of resident memory. Most sessions need
 * neither (no compression, and Blowfish/MD5 are ours), so the modules that
 * can do without them load them here, synchronously, when first needed.
 */
import { createRequire } from "node:module";

const requireBuiltin = createRequire(import.meta.url);

/** node:crypto, loaded on first call. */
export function nodeCrypto(): typeof import("node:crypto") {
  return requireBuiltin("node:crypto") as typeof import("node:crypto");
}

/** node:zlib, loaded on first call. */
export function nodeZlib(): typeof import("node:zlib") {
  return requireBuiltin("node:zlib") as typeof import("node:zlib");
}
