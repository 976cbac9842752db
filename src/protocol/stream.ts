/**
 * The byte stream the handshake runs over: the TCP control connection in the
 * daemon, an in-memory pipe in tests.
 */

/** A reliable, ordered byte stream with per-read timeouts. */
export interface ByteStream {
  /** Resolves with exactly `n` bytes; rejects with {@link StreamError} on EOF, timeout or failure. */
  readExact(n: number, timeoutMs: number): Promise<Uint8Array>;
  /** Writes all of `data`; rejects with {@link StreamError} on failure. */
  write(data: Uint8Array): Promise<void>;
}

/** Why a stream operation failed. */
export type StreamFailure = "eof" | "timeout" | "error" | "cancelled";

/** A failed stream operation. */
export class StreamError extends Error {
  constructor(readonly failure: StreamFailure, message: string) {
    super(message);
    this.name = "StreamError";
  }
}
