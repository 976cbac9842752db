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
 *
 * A small copy (an idle tunnel's packets: pings, ACKs, keystrokes) is a plain
 * byte loop, and a medium one (up to 256 bytes) a loop of 32-bit words
 * through the arena's DataView, instead of a `copyWithin` call. Warm, all
 * take ~40 ns for 84 bytes; but on an idle tunnel every packet arrives at a
 * thread that has slept, and each runtime call (`copyWithin`, the `.buffer`
 * getter) then costs microseconds of cold code, on every hop of a round
 * trip. So do the two WeakMap look-ups that find the arena: an 84-byte
 * copyBytes with the caches flushed took ~11 µs that way against ~0.3 µs as
 * a byte loop (Bun, median of 250). The loops are compiled into their
 * caller and call nothing.
 */

/**
 * Size of the per-thread arena: a session needs ~0.75 MiB (TCP) or ~0.55 MiB
 * (UDP). Not more: the engine counts the whole arena as heap when it paces
 * its collections, and an 8 MiB arena let the Buffers node:crypto returns per
 * packet pile up (peak RSS 105 instead of 87 MiB with aes128ecb).
 */
const ARENA_SIZE = 2 * 1024 * 1024;
/**
 * The first bytes of every arena are not handed out: WebAssembly code that
 * needs data at fixed addresses keeps it there (the Blowfish key schedule,
 * see crypto/blowfish_wasm.ts). A multiple of {@link ALIGN}.
 */
export const ARENA_RESERVED = 4352;
/** Allocations start on cache-line boundaries. */
const ALIGN = 64;
/** WebAssembly pages are 64 KiB. */
const WASM_PAGE = 65536;

/**
 * Copies up to this many bytes, between any two buffers, are a byte loop that looks
 * nothing up (see the module comment): an idle tunnel's packets (pings, ACKs) are below it.
 */
const BYTE_LOOP_COPY = 128;

/** Copies up to this many bytes between arena buffers run as a word loop (see the module comment). */
const SMALL_COPY = 256;

/** One arena and the views that copies between its buffers use. */
interface Arena {
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly words: DataView;
}

let arena: Arena | null = null;
let arenaUsed = 0;
/** The WebAssembly memory of each arena (none where the runtime has no WebAssembly). */
const arenaMemories = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();
/** The arena of each buffer {@link allocBytes} carved out of one (a lookup, not a runtime call). */
const arenaOf = new WeakMap<Uint8Array, Arena>();

/** A zeroed buffer of `size` bytes for long-lived data-path use (see the module comment). */
export function allocBytes(size: number): Uint8Array {
  if (size > ARENA_SIZE - ARENA_RESERVED) return new Uint8Array(size);
  const a = arena !== null && size <= ARENA_SIZE - arenaUsed ? arena : createArena();
  const bytes = new Uint8Array(a.buffer, arenaUsed, size);
  arenaUsed += Math.ceil(size / ALIGN) * ALIGN;
  arenaOf.set(bytes, a);
  return bytes;
}

function createArena(): Arena {
  let buffer: ArrayBuffer;
  try {
    const pages = ARENA_SIZE / WASM_PAGE;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    buffer = memory.buffer as ArrayBuffer;
    arenaMemories.set(buffer, memory);
  } catch {
    buffer = new ArrayBuffer(ARENA_SIZE);
  }
  arena = { buffer, bytes: new Uint8Array(buffer), words: new DataView(buffer) };
  arenaUsed = ARENA_RESERVED;
  return arena;
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
  if (length <= BYTE_LOOP_COPY) {
    // Backward when the target starts after the source: right for an overlap in one
    // ArrayBuffer (memmove), and harmless for any other pair (byteOffsets of unrelated buffers).
    const from = src.byteOffset + srcAt;
    const to = dst.byteOffset + dstAt;
    if (to > from) for (let i = length - 1; i >= 0; i--) dst[dstAt + i] = src[srcAt + i]!;
    else for (let i = 0; i < length; i++) dst[dstAt + i] = src[srcAt + i]!;
    return;
  }
  const a = arenaOf.get(src);
  if (a !== undefined && arenaOf.get(dst) === a) {
    const from = src.byteOffset + srcAt;
    const to = dst.byteOffset + dstAt;
    // A forward word loop is right unless the target starts inside the source range.
    if (length <= SMALL_COPY && (to <= from || to >= from + length)) copyWords(a, from, to, length);
    else a.bytes.copyWithin(to, from, from + length);
  } else if (src === dst) {
    dst.copyWithin(dstAt, srcAt, srcAt + length);
  } else {
    dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  }
}

/** Copies `length` bytes from `from` to `to` in the arena, forward, four at a time. */
function copyWords(a: Arena, from: number, to: number, length: number): void {
  const w = a.words;
  const end = from + (length & ~3);
  while (from < end) {
    w.setUint32(to, w.getUint32(from, true), true);
    from += 4;
    to += 4;
  }
  const b = a.bytes;
  for (let i = 0; i < (length & 3); i++) b[to + i] = b[from + i]!;
}
