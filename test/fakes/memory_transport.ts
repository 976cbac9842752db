/**
 * An in-memory pair of {@link FrameTransport}s: what one side sends, the
 * other receives, as real vtun frame bytes (header + body), so the framing
 * rules are exercised too. The wire can be cut to simulate a dead peer.
 */
import {
  bodyLength,
  CONTROL_MASK,
  HEADER_SIZE,
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
  /** When set, the next send throws (e.g. ECONNRESET). */
  failSends: string | null = null;
  closed = false;
  private peerClosed = false;

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
    for (let frame = this.queue.shift(); frame; frame = this.queue.shift()) {
      const header = readHeader(frame, 0);
      if (header & CONTROL_MASK) {
        sink.onControl(header & CONTROL_MASK);
        continue;
      }
      const length = bodyLength(header);
      if (length > MAX_FRAME_BODY || frame.length !== HEADER_SIZE + length) {
        sink.onBadFrame(`frame of ${frame.length - HEADER_SIZE} bytes, header says ${length}`);
        continue;
      }
      sink.onData(frame, HEADER_SIZE, length);
    }
    // Only a stream ends; a datagram socket just goes quiet.
    return this.kind === "tcp" && this.peerClosed ? "eof" : "ok";
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
