/**
 * A persistent zlib stream (deflate or inflate) driven synchronously, one
 * `Z_SYNC_FLUSH` call per frame, on node:zlib's native handle.
 *
 * Why the native handle: node:zlib has no public API that runs a *long-lived*
 * stream synchronously. The stream classes (`createDeflate`…) are async
 * Transforms, and the `*Sync` functions start a fresh stream per call.
 * `_processChunk(chunk, flush)` without a callback is synchronous, but it
 * closes the stream when it returns (Node, Bun and Deno all do this: it is
 * the helper behind `deflateSync`), so the second frame fails with "null is
 * not an object". What those helpers do underneath is the same in all three
 * runtimes (Bun's and Deno's node:zlib are ports of Node's lib/zlib.js): the
 * stream's `_handle.writeSync(flush, in, inOff, inLen, out, outOff, outLen)`
 * runs zlib's `deflate()`/`inflate()` once and leaves
 * `[avail_out, avail_in]` in the stream's `_writeState`, and a zlib error is
 * reported synchronously through `_handle.onerror(message, errno)`. That is
 * what this class uses; it checks the pieces exist when it is created, so a
 * runtime that changes them fails at session start with a clear message
 * rather than mid-stream. Checked with Bun 1.4.5, Node 20.20 and Deno 2.9.6.
 *
 * Output: at level 9, Bun's and Deno's deflate reproduce the frames vtund
 * sent byte for byte (stage_test.ts checks the capture); Node 20's zlib
 * (Chromium's fork) compresses differently. Either is a valid stream, which
 * is all the receiver needs. The runtimes' zlibs also differ at level 1 on
 * incompressible data: Bun and Deno emit fixed-Huffman blocks (up to 9 bits
 * a byte) where reference zlib falls back to stored blocks (see the zlib
 * stage's overhead).
 *
 * The pure-JS alternative, `pako`, is not needed: it would be a dependency,
 * and it is over 20 times slower here (19 MB/s at level 1 in Bun against
 * about 450 MB/s native for 1400-byte packets).
 */
import type * as zlib from "node:zlib";
import { nodeZlib } from "../runtime/builtin.ts";

/** The parts of node:zlib's native handle this module drives. */
interface NativeZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  close(): void;
  onerror: unknown;
}

function nativeParts(stream: object, what: string): { handle: NativeZlibHandle; state: Uint32Array } {
  const s = stream as { _handle?: unknown; _writeState?: unknown };
  const handle = s._handle;
  const state = s._writeState;
  if (
    typeof handle !== "object" ||
    handle === null ||
    typeof (handle as { writeSync?: unknown }).writeSync !== "function" ||
    typeof (handle as { close?: unknown }).close !== "function" ||
    !(state instanceof Uint32Array) ||
    state.length < 2
  ) {
    throw new Error(`zlib: this runtime's node:zlib ${what} has no synchronous native handle (_handle.writeSync/_writeState); cannot run vtund's zlib compression`);
  }
  return { handle: handle as NativeZlibHandle, state };
}

/** One direction of zlib: a deflate or an inflate stream that lasts the whole session. */
export class SyncZlibStream {
  private readonly stream: zlib.Deflate | zlib.Inflate;
  private readonly handle: NativeZlibHandle;
  private readonly state: Uint32Array;
  private readonly syncFlush: number;
  private error: string | null = null;
  private closed = false;
  /** Input bytes the last {@link run} left unconsumed. */
  availIn = 0;
  /** Output room the last {@link run} left unused. */
  availOut = 0;

  private constructor(
    readonly what: "deflate" | "inflate",
    stream: zlib.Deflate | zlib.Inflate,
  ) {
    this.stream = stream;
    this.syncFlush = nodeZlib().constants.Z_SYNC_FLUSH;
    const { handle, state } = nativeParts(stream, what);
    this.handle = handle;
    this.state = state;
    handle.onerror = (message: unknown, errno: unknown): void => {
      this.error = `${String(message)} (${String(errno)})`;
    };
  }

  /** A zlib-format (RFC 1950) deflate stream: windowBits 15, memLevel 8, default strategy. */
  static deflate(level: number): SyncZlibStream {
    const z = nodeZlib();
    return new SyncZlibStream("deflate", z.createDeflate({ level, windowBits: 15, memLevel: 8, strategy: z.constants.Z_DEFAULT_STRATEGY }));
  }

  /** A zlib-format inflate stream (windowBits 15). */
  static inflate(): SyncZlibStream {
    return new SyncZlibStream("inflate", nodeZlib().createInflate({ windowBits: 15 }));
  }

  /**
   * Runs zlib once with Z_SYNC_FLUSH on `src[srcAt, srcAt+length)`, writing at
   * most `outLength` bytes at `dst[dstAt]`; returns the bytes written and sets
   * {@link availIn}/{@link availOut}. Throws on a zlib error (the stream is
   * unusable after that, as in vtund).
   */
  run(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number, outLength: number): number {
    if (this.closed) throw new Error(`zlib: ${this.what} stream used after close`);
    if (this.error !== null) throw new Error(`zlib: ${this.what} stream failed earlier: ${this.error}`);
    this.handle.writeSync(this.syncFlush, src, srcAt, length, dst, dstAt, outLength);
    if (this.error !== null) throw new Error(`zlib: ${this.what} error: ${this.error}`);
    this.availOut = this.state[0]!;
    this.availIn = this.state[1]!;
    return outLength - this.availOut;
  }

  /** Frees the native zlib state. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  /** The node:zlib stream object (kept referenced: it owns the handle). */
  get nodeStream(): zlib.Deflate | zlib.Inflate {
    return this.stream;
  }
}
