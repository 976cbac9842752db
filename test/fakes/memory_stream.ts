/**
 * In-memory {@link ByteStream}s for handshake and UDP port exchange tests.
 *
 * - {@link memoryStreamPair}: two connected ends, like a socketpair. What one
 *   end writes, the other reads, in order, however the reads and writes are cut.
 *   `readExact` honours its timeout (rejecting with StreamError "timeout" and
 *   consuming nothing, as the real FdStream keeps a half-read for the next
 *   read), and rejects with StreamError "eof" once the other end has called
 *   `close()` and the bytes it wrote before are used up.
 * - {@link scriptedStream}: replays fixed bytes (for example a captured byte
 *   stream of a real vtund) and records everything written to it. When the
 *   script runs out, reads reject with "eof", as if the peer had closed.
 */
import { StreamError, type ByteStream } from "../../src/protocol/stream.ts";

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface PendingRead {
  n: number;
  resolve: (bytes: Uint8Array) => void;
  reject: (e: StreamError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One end of a {@link memoryStreamPair}. */
export class MemoryStream implements ByteStream {
  /** Every `write()` this end made, one entry per call, in order. */
  readonly writes: Uint8Array[] = [];
  peer: MemoryStream | null = null;
  private inbox = new Uint8Array(0);
  private pending: PendingRead | null = null;
  private closed = false;
  private peerClosed = false;

  /** Everything this end wrote, as one byte array. */
  written(): Uint8Array {
    return concatBytes(this.writes);
  }

  /** True once `close()` was called on this end. */
  get isClosed(): boolean {
    return this.closed;
  }

  readExact(n: number, timeoutMs: number): Promise<Uint8Array> {
    if (this.pending !== null) {
      return Promise.reject(new StreamError("error", "memory stream: a read is already pending"));
    }
    if (this.closed) return Promise.reject(new StreamError("error", "memory stream: read after close"));
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new StreamError("timeout", `timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = { n, resolve, reject, timer };
      this.serve();
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new StreamError("error", "memory stream: write after close"));
    const copy = data.slice();
    this.writes.push(copy);
    // Like a TCP write into a connection the peer has closed: it succeeds and the bytes are lost.
    if (this.peer !== null && !this.peer.closed) this.peer.receive(copy);
    return Promise.resolve();
  }

  /** Closes this end: its pending read fails, and the peer reads EOF after the bytes already sent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending !== null) {
      const p = this.pending;
      this.pending = null;
      clearTimeout(p.timer);
      p.reject(new StreamError("cancelled", "memory stream: closed while reading"));
    }
    this.peer?.onPeerClose();
  }

  private receive(bytes: Uint8Array): void {
    const grown = new Uint8Array(this.inbox.length + bytes.length);
    grown.set(this.inbox);
    grown.set(bytes, this.inbox.length);
    this.inbox = grown;
    this.serve();
  }

  private onPeerClose(): void {
    this.peerClosed = true;
    this.serve();
  }

  private serve(): void {
    const p = this.pending;
    if (p === null) return;
    if (this.inbox.length >= p.n) {
      this.pending = null;
      clearTimeout(p.timer);
      const out = this.inbox.slice(0, p.n);
      this.inbox = this.inbox.slice(p.n);
      p.resolve(out);
    } else if (this.peerClosed) {
      this.pending = null;
      clearTimeout(p.timer);
      p.reject(new StreamError("eof", "connection closed by peer"));
    }
  }
}

/** Two connected in-memory streams: bytes written on one are read on the other. */
export function memoryStreamPair(): [MemoryStream, MemoryStream] {
  const a = new MemoryStream();
  const b = new MemoryStream();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A stream that replays fixed bytes and records writes (see {@link scriptedStream}). */
export interface ScriptedStream extends ByteStream {
  /** Every `write()` made to the stream, one entry per call, in order. */
  readonly writes: Uint8Array[];
  /** Everything written, as one byte array. */
  written(): Uint8Array;
  /** How many scripted bytes have not been read yet. */
  remaining(): number;
}

/**
 * A stream whose reads return the bytes of `reads`, in order, cut however the
 * reader asks (chunk boundaries do not matter, as on TCP). Once they are used
 * up, reads reject with StreamError "eof". Writes always succeed and are kept.
 */
export function scriptedStream(reads: readonly Uint8Array[]): ScriptedStream {
  let input = concatBytes(reads);
  const writes: Uint8Array[] = [];
  return {
    writes,
    written: () => concatBytes(writes),
    remaining: () => input.length,
    readExact(n: number): Promise<Uint8Array> {
      if (input.length < n) {
        input = new Uint8Array(0);
        return Promise.reject(new StreamError("eof", "end of script"));
      }
      const out = input.slice(0, n);
      input = input.slice(n);
      return Promise.resolve(out);
    },
    write(data: Uint8Array): Promise<void> {
      writes.push(data.slice());
      return Promise.resolve();
    },
  };
}
