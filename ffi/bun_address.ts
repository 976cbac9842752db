/**
 * Buffer addresses for `bun:ffi` calls without a `ptr()` call per packet
 * (and {@link dlopenFirst}, shared by the optional C libraries).
 *
 * `ptr(buf, offset)` is a host call; in the first packet after an idle pause,
 * when nothing is in the caches, it costs microseconds (3–4 µs each, measured
 * with the cache thrashed between calls), and a round trip through two
 * daemons makes several. The data path hands each call site the same large
 * buffer every time, so each site remembers the last buffer and its address
 * and adds the offset.
 *
 * Only buffers of {@link STABLE_BYTES} or more are remembered: JavaScriptCore
 * keeps the storage of a large typed array (and of any view into an
 * ArrayBuffer, such as the arenas of `src/bytes.ts`) in place for its life,
 * while a small typed array's storage can move (when its ArrayBuffer is
 * first asked for). The remembered buffer is held, so its storage stays
 * alive; nothing in vtunts transfers or resizes these buffers.
 */
import { dlopen, ptr, type FFIFunction, type Pointer } from "bun:ffi";

/** Buffers at least this large have storage that does not move (JavaScriptCore's fast typed arrays are ≤ 1000 bytes). */
export const STABLE_BYTES = 4096;

/** Returns a function giving the address of `buf[offset]`, remembering the last large buffer. */
export function addressCache(): (buf: Uint8Array, offset: number) => Pointer | Uint8Array {
  let last: Uint8Array | null = null;
  let base = 0;
  return (buf, offset) => {
    if (buf === last) return (base + offset) as Pointer;
    if (buf.byteLength < STABLE_BYTES) return offset === 0 ? buf : ptr(buf, offset);
    last = buf;
    base = ptr(buf) as number;
    return (base + offset) as Pointer;
  };
}

/** dlopen() of the first of `names` that loads (e.g. "libcrypto.so.3", then "libcrypto.so"), or null. */
export function dlopenFirst<S extends Record<string, FFIFunction>>(names: readonly string[], symbols: S): ReturnType<typeof dlopen<S>> | null {
  for (const name of names) {
    try {
      return dlopen(name, symbols);
    } catch {
      // try the next name
    }
  }
  return null;
}
