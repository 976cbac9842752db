/**
 * vtun frames over a TCP stream (proto tcp): back to back, each a 2-byte
 * header and its body. Reads take whatever the socket has (up to 256 KiB) and
 * split frames in place; sends are gathered in an output buffer and written
 * with one send() per batch, so a burst of packets costs one syscall. On an
 * idle link a read is mostly one whole frame, which {@link
 * TcpFrameTransport.receiveLone} hands over where it lies.
 *
 * Under bulk load the socket is asked to wake the daemon only for a large
 * backlog ({@link ReadHold}); a wake-up per 64 KiB segment is what costs,
 * not the bytes.
 */
import { Errno, errnoName } from "../../ffi/errno.ts";
import { MSG_NOSIGNAL, SO_RCVLOWAT, SOL_SOCKET, type Libc } from "../../ffi/libc.ts";
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
import { setIntSocketOption } from "./socket.ts";
import { UnsentLimit } from "./unsent_limit.ts";

const IN_SIZE = 256 * 1024;
const OUT_SIZE = 256 * 1024;

/** A read of at least this many bytes shows that data came faster than the daemon woke. */
export const HOLD_AFTER_READ = 64 * 1024;
/** Such reads must keep coming this long before reads are held: a short burst (a web page) never waits for the driver's timer. */
export const HOLD_AFTER_MS = 20;
/** A pause this long between such reads starts the count again. */
export const HOLD_STREAK_GAP_MS = 2;
/** After a hold that lasted HOLD_AFTER_MS or longer, a large read this soon holds again at once (the same bulk flow, after a pause). */
export const HOLD_AGAIN_WITHIN_MS = 100;
/** While held, the socket wakes the daemon only for this backlog (SO_RCVLOWAT). */
export const HOLD_LOW_WATER = 128 * 1024;

/**
 * Wake-ups under bulk load. When reads of {@link HOLD_AFTER_READ} bytes or
 * more have kept coming for {@link HOLD_AFTER_MS}, the socket's low-water
 * mark (SO_RCVLOWAT) goes up to {@link HOLD_LOW_WATER}: poll() then reports
 * it readable only once that much waits. A wake-up costs about as much as
 * moving a 64 KiB segment, so fewer of them move more through a plain tcp
 * tunnel on 2 cores. When the flow slows or ends the mark is not reached:
 * after HELD_READ_MS without a wake-up the driver calls {@link release},
 * and the socket wakes for every byte again (the kernel's default, right
 * for an idle or slow link), at once for the bytes waiting. So the last
 * bytes of a long transfer may arrive a millisecond later; a burst shorter
 * than HOLD_AFTER_MS is never held. A bulk flow pauses now and then (the
 * sender descheduled, its congestion control probing): a hold that had
 * lasted resumes at the next large read within {@link HOLD_AGAIN_WITHIN_MS}.
 */
export class ReadHold {
  /** True while the socket's low-water mark is raised. */
  held = false;
  private usable: boolean;
  private streakStart = -1; // when the current run of large reads began
  private lastLarge = 0;
  private heldAt = 0;
  private holdAgainUntil = -1;

  /** `now`: monotonic milliseconds, read only after large reads (never on an idle link). */
  constructor(
    private readonly libc: Libc,
    private readonly fd: number,
    enabled: boolean,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.usable = enabled;
  }

  /** Called after every read with the bytes it returned. */
  afterRead(bytes: number): void {
    if (this.held || bytes < HOLD_AFTER_READ || !this.usable) return;
    const t = this.now();
    if (this.streakStart < 0 || t - this.lastLarge > HOLD_STREAK_GAP_MS) this.streakStart = t;
    this.lastLarge = t;
    if (t - this.streakStart >= HOLD_AFTER_MS || t < this.holdAgainUntil) {
      this.heldAt = t;
      this.set(HOLD_LOW_WATER);
    }
  }

  /** Back to a wake-up for every byte. */
  release(): void {
    if (!this.held) return;
    const t = this.now();
    this.holdAgainUntil = t - this.heldAt >= HOLD_AFTER_MS ? t + HOLD_AGAIN_WITHIN_MS : -1;
    this.streakStart = -1;
    this.set(1);
  }

  private set(lowWater: number): void {
    if (setIntSocketOption(this.libc, this.fd, SOL_SOCKET, SO_RCVLOWAT, lowWater) === 0) {
      this.held = lowWater > 1;
    } else if (lowWater > 1) {
      this.usable = false; // the kernel refuses it: wake for every byte, as before
    }
    // A refused release (never seen) leaves the hold on: the driver's timer keeps reading and retries.
  }
}

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
  private readonly hold: ReadHold;
  /** The cap on the socket's unsent data, or null (option `limitUnsent`). */
  readonly unsent: UnsentLimit | null;
  /** Where {@link sendRate} comes from: the unsent cap's looks at TCP_INFO, or null (no rate, as over UDP). */
  private readonly rateSource: UnsentLimit | null;

  /**
   * `holdReads` (default true) and `now` (its clock, default performance.now): see {@link ReadHold}.
   * `limitUnsent` (default false): keep the socket's unsent data to a few milliseconds (see {@link UnsentLimit}).
   * `reportRate` (default true): with `limitUnsent`, {@link sendRate} is the pacing rate it reads; else there is none.
   */
  constructor(
    private readonly libc: Libc,
    readonly fd: number,
    options: { holdReads?: boolean; now?: () => number; limitUnsent?: boolean; reportRate?: boolean } = {},
  ) {
    this.hold = new ReadHold(libc, fd, options.holdReads ?? true, options.now);
    this.unsent = options.limitUnsent ? new UnsentLimit(libc, fd, options.now) : null;
    this.rateSource = (options.reportRate ?? true) ? this.unsent : null;
  }

  /** See {@link FrameTransport.sendRate}: undefined without a rate source, so the link sizes no queue by it. */
  get sendRate(): number | undefined {
    return this.rateSource?.rate;
  }

  get backlog(): number {
    return this.outEnd - this.outStart;
  }

  /** See {@link FrameTransport.readsHeld}. */
  get readsHeld(): boolean {
    return this.hold.held;
  }

  /** See {@link FrameTransport.releaseReads}. */
  releaseReads(): void {
    this.hold.release();
  }

  receive(sink: FrameSink): ReceiveStatus {
    // One read per call: poll() tells us when there is more, and a bounded
    // amount of work per wake-up keeps the device direction served too.
    // Room for a whole held backlog, so that a short read means a slow flow, not a full buffer.
    if (IN_SIZE - this.inEnd < HOLD_LOW_WATER && this.inStart > 0) this.compact();
    const r = this.libc.recv(this.fd, this.input, this.inEnd, IN_SIZE - this.inEnd, 0);
    if (r === 0) return "eof";
    if (r < 0) {
      if (r === -Errno.EAGAIN || r === -Errno.EINTR) return "ok";
      throw new TransportError(`tcp: recv failed: ${errnoName(r)}`);
    }
    this.hold.afterRead(r);
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
    this.hold.afterRead(r);
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
      this.unsent?.afterSend(r);
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
