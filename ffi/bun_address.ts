/**
 * Buffer addresses for `bun:ffi` calls without a `ptr()` call per packet
 * (and {@link dlopenFirst}, shared by the optional C libraries).
 *
 * `ptr(buf, offset)` is a host call; in the first packet after an idle pause,
 * when nothing is in the caches, it costs microseconds (3–4 µs each, measured
 * with the cache thrashed between calls), and a round trip through two
 * daemons makes several. The data path hands each call site one of a few
 * large buffers (a lone packet's, a batch's, a cipher's scratch: libcrypto's
 * one update call sees the encrypting and the decrypting side's buffers in
 * turn), so each site remembers the addresses of the last
 * {@link ADDRESS_SLOTS} buffers ({@link rememberRecent}) and adds the offset.
 *
 * Only buffers of {@link STABLE_BYTES} or more are remembered: JavaScriptCore
 * keeps the storage of a large typed array (and of any view into an
 * ArrayBuffer, such as the arenas of `src/bytes.ts`) in place for its life,
 * while a small typed array's storage can move (when its ArrayBuffer is
 * first asked for). The remembered buffer is held, so its storage stays
 * alive; nothing in vtunts transfers or resizes these buffers.
 */
import { dlopen, ptr, type FFIFunction, type Pointer } from "bun:ffi";
import { RECENT_SLOTS, rememberRecent } from "./recent.ts";

/** Buffers at least this large have storage that does not move (JavaScriptCore's fast typed arrays are ≤ 1000 bytes). */
export const STABLE_BYTES = 4096;

/** How many buffers an {@link addressCache} remembers. */
export const ADDRESS_SLOTS = RECENT_SLOTS;

/**
 * Returns a function giving the address of `buf[offset]`, remembering the
 * last {@link ADDRESS_SLOTS} large buffers' addresses (see recent.ts).
 * `pointerOf` is `ptr`, or a stand-in that counts calls in tests.
 */
export function addressCache(pointerOf: (buf: Uint8Array, offset?: number) => Pointer = ptr): (buf: Uint8Array, offset: number) => Pointer | Uint8Array {
  const baseOf = rememberRecent((buf: Uint8Array) => pointerOf(buf) as number);
  return (buf, offset) => {
    if (buf.byteLength < STABLE_BYTES) return offset === 0 ? buf : pointerOf(buf, offset);
    return (baseOf(buf) + offset) as Pointer;
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
