/**
 * Byte buffers of the data path, and copies between them that allocate nothing.
 *
 * `dst.set(src.subarray(a, b), at)` creates a view object per call. At a few
 * hundred thousand packets per second that garbage alone grew a Bun daemon's
 * resident memory by ~20 MiB (JavaScriptCore keeps the freed heap blocks).
 * So the long-lived buffers of a session are carved out of one ArrayBuffer
 * per thread (each session runs in its own worker thread), and a copy between
 * two of them is one `copyWithin` on that ArrayBuffer: a memmove, no object.
 * Copies that involve any other buffer fall back to `set(subarray)`.
 *
 * An arena is never freed; once it is used up (e.g. many links in one test
 * process), {@link allocBytes} starts another.
 *
 * The arena is the memory of a WebAssembly instance where the runtime has
 * WebAssembly (all three do): the checksum of the offload path runs as a
 * SIMD loop over it (see device/checksum.ts), which JavaScript cannot reach.
 */

/**
 * Size of the per-thread arena: a session needs ~0.75 MiB (TCP) or ~0.55 MiB
 * (UDP). Not more: the engine counts the whole arena as heap when it paces
 * its collections, and an 8 MiB arena let the Buffers node:crypto returns per
 * packet pile up (peak RSS 105 instead of 87 MiB with aes128ecb).
 */
const ARENA_SIZE = 2 * 1024 * 1024;
/** Allocations start on cache-line boundaries. */
const ALIGN = 64;
/** WebAssembly pages are 64 KiB. */
const WASM_PAGE = 65536;

let arena: ArrayBuffer | null = null;
/** The WebAssembly memory of each arena (none where the runtime has no WebAssembly). */
const arenaMemories = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();
let arenaBytes = new Uint8Array(0);
let arenaUsed = 0;

/** A zeroed buffer of `size` bytes for long-lived data-path use (see the module comment). */
export function allocBytes(size: number): Uint8Array {
  if (size > ARENA_SIZE) return new Uint8Array(size);
  const buffer = arena !== null && size <= ARENA_SIZE - arenaUsed ? arena : createArena();
  const bytes = new Uint8Array(buffer, arenaUsed, size);
  arenaUsed += Math.ceil(size / ALIGN) * ALIGN;
  return bytes;
}

function createArena(): ArrayBuffer {
  let buffer: ArrayBuffer;
  try {
    const pages = ARENA_SIZE / WASM_PAGE;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    buffer = memory.buffer as ArrayBuffer;
    arenaMemories.set(buffer, memory);
  } catch {
    buffer = new ArrayBuffer(ARENA_SIZE);
  }
  arena = buffer;
  arenaBytes = new Uint8Array(buffer);
  arenaUsed = 0;
  return buffer;
}

/**
 * The WebAssembly memory whose buffer is `buffer`, if it is an arena's: code
 * that runs over {@link allocBytes} buffers in WebAssembly reads them at
 * their `byteOffset`. Null for other buffers and where the runtime has no
 * WebAssembly.
 */
export function arenaMemory(buffer: ArrayBufferLike): WebAssembly.Memory | null {
  return arenaMemories.get(buffer) ?? null;
}

/**
 * Copies `src[srcAt, srcAt+length)` to `dst[dstAt…]` (overlap allowed).
 * Allocates nothing when both are {@link allocBytes} buffers or the same array.
 */
export function copyBytes(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
  // copyWithin clamps silently; an arena overrun would corrupt the neighbouring buffer.
  if (srcAt < 0 || dstAt < 0 || length < 0 || srcAt + length > src.length || dstAt + length > dst.length) {
    throw new RangeError(`copyBytes: ${length} bytes from ${srcAt}/${src.length} to ${dstAt}/${dst.length} out of bounds`);
  }
  if (src === dst) {
    dst.copyWithin(dstAt, srcAt, srcAt + length);
  } else if (src.buffer === arena && dst.buffer === arena) {
    const from = src.byteOffset + srcAt;
    arenaBytes.copyWithin(dst.byteOffset + dstAt, from, from + length);
  } else {
    dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  }
}
