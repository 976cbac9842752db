/**
 * An in-memory pair of {@link FrameTransport}s: what one side sends, the
 * other receives, as real vtun frame bytes (header + body), so the framing
 * rules are exercised too. The wire can be cut to simulate a dead peer.
 */
import {
  bodyLength,
  CONTROL_MASK,
  HEADER_SIZE,
  LONE_HEADROOM,
  MAX_FRAME_BODY,
  readHeader,
  writeControlHeader,
  writeDataHeader,
} from "../../src/protocol/frame.ts";
import type { FrameSink, FrameTransport, ReceiveStatus } from "../../src/transport/transport.ts";
import { TransportError } from "../../src/transport/transport.ts";

/** One end of an in-memory link. */
export class MemoryTransport implements FrameTransport {
  readonly fd = -1;
  readonly sendBuffer = new Uint8Array(HEADER_SIZE + 4096);
  /** Frames (header + body) waiting for this end. */
  readonly queue: Uint8Array[] = [];
  /** Every frame this end sent, for inspection. */
  readonly sent: Uint8Array[] = [];
  peer: MemoryTransport | null = null;
  /** While true, frames sent by either end vanish (pulled cable, dead peer). */
  cut = false;
  /** Queued-but-unwritten bytes the link should see (to test backpressure). */
  backlog = 0;
  /** The send rate to report (bytes/s), as a TCP transport does; absent by default, as UDP. */
  sendRate?: number;
  /** When set, the next send throws (e.g. ECONNRESET). */
  failSends: string | null = null;
  closed = false;
  private peerClosed = false;
  /** Where receiveLone leaves a frame body (the idle path). */
  readonly loneInput = new Uint8Array(LONE_HEADROOM + 4096);
  /** Frames sent, and frames received, through the idle path. */
  loneSends = 0;
  loneReceives = 0;

  constructor(readonly kind: "tcp" | "udp") {}

  private deliver(frame: Uint8Array): boolean {
    if (this.failSends) throw new TransportError(this.failSends);
    if (this.closed) return false;
    this.sent.push(frame);
    if (this.cut || this.peer?.cut || this.peer === null || this.peer.closed) return true;
    this.peer.queue.push(frame);
    return true;
  }

  /** Puts raw bytes on the wire towards the peer (to send malformed frames). */
  sendRaw(bytes: Uint8Array): void {
    this.peer?.queue.push(bytes.slice());
  }

  receive(sink: FrameSink): ReceiveStatus {
    for (let frame = this.queue.shift(); frame; frame = this.queue.shift()) this.hand(frame, sink);
    // Only a stream ends; a datagram socket just goes quiet.
    return this.kind === "tcp" && this.peerClosed ? "eof" : "ok";
  }

  private hand(frame: Uint8Array, sink: FrameSink): void {
    const header = readHeader(frame, 0);
    if (header & CONTROL_MASK) {
      sink.onControl(header & CONTROL_MASK);
      return;
    }
    const length = bodyLength(header);
    if (length > MAX_FRAME_BODY || frame.length !== HEADER_SIZE + length) {
      sink.onBadFrame(`frame of ${frame.length - HEADER_SIZE} bytes, header says ${length}`);
      return;
    }
    sink.onData(frame, HEADER_SIZE, length);
  }

  /** The idle path: takes one frame off the wire; a data frame lands in loneInput (its headroom poisoned). */
  receiveLone(sink: FrameSink): number {
    const frame = this.queue.shift();
    if (frame === undefined) return 0;
    const header = readHeader(frame, 0);
    const length = bodyLength(header);
    if ((header & CONTROL_MASK) !== 0 || length > MAX_FRAME_BODY || frame.length !== HEADER_SIZE + length) {
      this.hand(frame, sink);
      return -1;
    }
    this.loneReceives++;
    this.loneInput.fill(0xcc, 0, LONE_HEADROOM);
    this.loneInput.set(frame.subarray(HEADER_SIZE), LONE_HEADROOM);
    return length;
  }

  /** The idle path: sends the frame framed in place, unless frames wait (backlog) or the end is closed. */
  sendLone(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.closed || this.backlog > 0) return false;
    writeDataHeader(buf, offset - HEADER_SIZE, length);
    this.loneSends++;
    return this.deliver(buf.slice(offset - HEADER_SIZE, offset + length));
  }

  reserveData(_maxLength: number): number {
    return this.closed ? -1 : HEADER_SIZE;
  }

  commitData(length: number): boolean {
    writeDataHeader(this.sendBuffer, 0, length);
    return this.deliver(this.sendBuffer.slice(0, HEADER_SIZE + length));
  }

  sendControl(control: number): boolean {
    const frame = new Uint8Array(HEADER_SIZE);
    writeControlHeader(frame, 0, control);
    return this.deliver(frame);
  }

  flush(): boolean {
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.peer) this.peer.peerClosed = true;
  }
}

/** Two connected in-memory transports. */
export function memoryTransportPair(kind: "tcp" | "udp" = "tcp"): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(kind);
  const b = new MemoryTransport(kind);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
