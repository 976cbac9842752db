/**
 * vtun frames over a TCP stream (proto tcp): back to back, each a 2-byte
 * header and its body. Reads take whatever the socket has (up to 256 KiB) and
 * split frames in place; sends are gathered in an output buffer and written
 * with one send() per batch, so a burst of packets costs one syscall. On an
 * idle link a read is mostly one whole frame, which {@link
 * TcpFrameTransport.receiveLone} hands over where it lies.
 */
import { Errno, errnoName } from "../../ffi/errno.ts";
import { MSG_NOSIGNAL, type Libc } from "../../ffi/libc.ts";
import {
  bodyLength,
  CONTROL_MASK,
  HEADER_SIZE,
  isWholeDataFrame,
  LONE_HEADROOM,
  MAX_FRAME_BODY,
  readHeader,
  writeControlHeader,
  writeDataHeader,
} from "../protocol/frame.ts";
import { TransportError, type FrameSink, type FrameTransport, type ReceiveStatus } from "./transport.ts";
import { allocBytes, copyBytes } from "../bytes.ts";

const IN_SIZE = 256 * 1024;
const OUT_SIZE = 256 * 1024;

/** Frames on a connected TCP socket. */
export class TcpFrameTransport implements FrameTransport {
  readonly kind = "tcp";
  private readonly input = allocBytes(IN_SIZE);
  private inStart = 0; // first unparsed byte
  private inEnd = 0; // end of received bytes
  private skip = 0; // bytes of an oversized frame still to discard
  private readonly output = allocBytes(OUT_SIZE);
  private outStart = 0;
  private outEnd = 0;
  private closed = false;

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
  ) {}

  get backlog(): number {
    return this.outEnd - this.outStart;
  }

  receive(sink: FrameSink): ReceiveStatus {
    // One read per call: poll() tells us when there is more, and a bounded
    // amount of work per wake-up keeps the device direction served too.
    if (this.inEnd === IN_SIZE) this.compact();
    const r = this.libc.recv(this.fd, this.input, this.inEnd, IN_SIZE - this.inEnd, 0);
    if (r === 0) return "eof";
    if (r < 0) {
      if (r === -Errno.EAGAIN || r === -Errno.EINTR) return "ok";
      throw new TransportError(`tcp: recv failed: ${errnoName(r)}`);
    }
    this.inEnd += r;
    this.parse(sink);
    return "ok";
  }

  /** Where {@link receiveLone} leaves a frame body. */
  get loneInput(): Uint8Array {
    return this.input;
  }

  /**
   * The idle path (see FrameTransport.receiveLone). Only with nothing
   * buffered: the read goes where a frame body lands at
   * `input[LONE_HEADROOM]`, and a read that is exactly one data frame is
   * handed over there. Anything else (several frames, part of one, control
   * frames) is parsed as {@link receive} parses it. With part of a frame
   * already buffered it does not read, and returns -1: the caller's
   * {@link receive} takes the stream from there. End of stream is -1 too,
   * and the next {@link receive} reports it.
   */
  receiveLone(sink: FrameSink): number {
    if (this.inEnd !== 0 || this.skip !== 0) return -1;
    const at = LONE_HEADROOM - HEADER_SIZE;
    const r = this.libc.recv(this.fd, this.input, at, IN_SIZE - at, 0);
    if (r === 0) return -1;
    if (r < 0) {
      if (r === -Errno.EAGAIN || r === -Errno.EINTR) return 0;
      throw new TransportError(`tcp: recv failed: ${errnoName(r)}`);
    }
    if (r > HEADER_SIZE && isWholeDataFrame(readHeader(this.input, at), r)) return r - HEADER_SIZE;
    this.inStart = at;
    this.inEnd = at + r;
    this.parse(sink);
    return -1;
  }

  private parse(sink: FrameSink): void {
    const buf = this.input;
    let at = this.inStart;
    const end = this.inEnd;
    if (this.skip > 0) {
      const n = Math.min(this.skip, end - at);
      this.skip -= n;
      at += n;
    }
    while (this.skip === 0 && end - at >= HEADER_SIZE) {
      const header = readHeader(buf, at);
      if (header & CONTROL_MASK) {
        at += HEADER_SIZE;
        sink.onControl(header & CONTROL_MASK);
        continue;
      }
      const length = bodyLength(header);
      if (length > MAX_FRAME_BODY) {
        // vtund reads and discards an oversized frame, and the link goes on.
        sink.onBadFrame(`frame of ${length} bytes is longer than ${MAX_FRAME_BODY}`);
        at += HEADER_SIZE;
        const n = Math.min(length, end - at);
        this.skip = length - n;
        at += n;
        continue;
      }
      if (end - at < HEADER_SIZE + length) break;
      if (length > 0) sink.onData(buf, at + HEADER_SIZE, length);
      at += HEADER_SIZE + length;
    }
    this.inStart = at;
    if (at === end) this.inStart = this.inEnd = 0;
  }

  private compact(): void {
    this.input.copyWithin(0, this.inStart, this.inEnd);
    this.inEnd -= this.inStart;
    this.inStart = 0;
  }

  /** See {@link FrameTransport.sendBuffer}. */
  get sendBuffer(): Uint8Array {
    return this.output;
  }

  private reserve(n: number): boolean {
    if (this.outEnd + n <= OUT_SIZE) return true;
    this.flush();
    if (this.outStart > 0) {
      this.output.copyWithin(0, this.outStart, this.outEnd);
      this.outEnd -= this.outStart;
      this.outStart = 0;
    }
    return this.outEnd + n <= OUT_SIZE;
  }

  reserveData(maxLength: number): number {
    if (this.closed || !this.reserve(HEADER_SIZE + maxLength)) return -1;
    return this.outEnd + HEADER_SIZE;
  }

  commitData(length: number): boolean {
    writeDataHeader(this.output, this.outEnd, length);
    this.outEnd += HEADER_SIZE + length;
    return true;
  }

  sendControl(control: number): boolean {
    if (this.closed || !this.reserve(HEADER_SIZE)) return false;
    writeControlHeader(this.output, this.outEnd, control);
    this.outEnd += HEADER_SIZE;
    return true;
  }

  flush(): boolean {
    while (this.outStart < this.outEnd) {
      const r = this.libc.send(this.fd, this.output, this.outStart, this.outEnd - this.outStart, MSG_NOSIGNAL);
      if (r < 0) {
        if (r === -Errno.EAGAIN || r === -Errno.EINTR) return false;
        throw new TransportError(`tcp: send failed: ${errnoName(r)}`);
      }
      this.outStart += r;
    }
    this.outStart = this.outEnd = 0;
    return true;
  }

  sendLone(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.closed || this.outEnd !== this.outStart) return false;
    const at = offset - HEADER_SIZE;
    const total = HEADER_SIZE + length;
    writeDataHeader(buf, at, length);
    const r = this.libc.send(this.fd, buf, at, total, MSG_NOSIGNAL);
    if (r === -Errno.EAGAIN || r === -Errno.EINTR) return false;
    if (r < 0) throw new TransportError(`tcp: send failed: ${errnoName(r)}`);
    if (r < total) {
      // The socket took part of it: the rest goes first in the (empty) queue.
      copyBytes(buf, at + r, total - r, this.output, 0);
      this.outStart = 0;
      this.outEnd = total - r;
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
