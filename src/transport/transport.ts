/**
 * The network side of a link: something that carries vtun frames to the peer
 * and back. TCP (frames back to back on the stream) and UDP (one frame per
 * datagram) implement it; tests use an in-memory fake.
 */

/** See {@link FrameTransport.readsHeld}. */
export const HELD_READ_MS = 1;

/** Receives the frames a transport reads. Views are only valid during the call. */
export interface FrameSink {
  /** A data frame: its body is `buf[offset, offset+length)`. */
  onData(buf: Uint8Array, offset: number, length: number): void;
  /** A control frame (CONN_CLOSE, ECHO_REQ, ECHO_REP or an unknown flag value). */
  onControl(control: number): void;
  /** A frame that was discarded: too long, or a datagram whose size disagrees with its header. */
  onBadFrame(reason: string): void;
}

/** Result of {@link FrameTransport.receive}. */
export type ReceiveStatus = "ok" | "eof";

/** Carries frames to and from the peer without blocking. */
export interface FrameTransport {
  /** "tcp" or "udp" (or a fake's name), for logs. */
  readonly kind: string;
  /** The fd to poll() on; -1 for in-memory fakes. */
  readonly fd: number;
  /** Bytes queued for the peer and not yet written (the link stops reading the device when this grows). */
  readonly backlog: number;
  /**
   * Longest frame (header + body) that one unfragmented datagram carries on
   * the path to the peer; 0 or absent when that does not matter (a stream)
   * or is not known yet.
   */
  readonly maxFrame?: number;
  /**
   * The rate the transport sends at, in bytes/s, as the kernel paces it (a TCP
   * connection's pacing rate, looked up every megabyte sent): 0 until known,
   * absent where there is none (UDP; TCP without the unsent cap, or with
   * VTUNTS_DISABLE=rate-queues). The link keeps its own queue and the
   * device's to a few milliseconds of it (see Link.followSendRate).
   */
  readonly sendRate?: number;
  /**
   * True while the socket wakes the driver only for a large backlog (TCP under
   * bulk load, see ReadHold in tcp.ts). When poll() has not reported it
   * readable for {@link HELD_READ_MS}, the driver calls {@link releaseReads},
   * and the next poll() reports the tail of the burst that waited below it.
   */
  readonly readsHeld?: boolean;
  /** Ends a hold (see {@link readsHeld}): the socket wakes the driver for every byte again. */
  releaseReads?(): void;
  /** Reads what is available without blocking and hands every complete frame to `sink`. */
  receive(sink: FrameSink): ReceiveStatus;
  /**
   * The buffer that offsets from {@link reserveData} point into. Senders write
   * a frame body there directly, so a packet goes from the device read to the
   * socket write without a copy.
   */
  readonly sendBuffer: Uint8Array;
  /** Makes room for a data frame body of up to `maxLength` bytes; its offset in `sendBuffer`, or -1 if the queue is full. */
  reserveData(maxLength: number): number;
  /** Queues the data frame whose `length`-byte body was written at the last reserved offset. False if it was dropped. */
  commitData(length: number): boolean;
  /** Queues a control frame (CONN_CLOSE, ECHO_REQ, ECHO_REP). */
  sendControl(control: number): boolean;
  /** Writes queued frames as far as the socket takes them; true when nothing is left. */
  flush(): boolean;
  /**
   * The idle path (see Link.sendLonePacket), where a transport offers it:
   * sends the data frame whose body is `buf[offset, offset+length)` at once,
   * its header written into the bytes before the body. False when it has to
   * wait its turn (frames are queued, the peer is not known yet, the socket
   * is full): nothing was sent, and the caller queues it with
   * {@link reserveData}. A frame the socket refuses for good is dropped and
   * counted as {@link flush} drops it.
   */
  sendLone?(buf: Uint8Array, offset: number, length: number): boolean;
  /**
   * The idle path (see Link.receiveLoneFrame): receives once. When that is a
   * single data frame its body length is returned, the body at
   * `loneInput[LONE_HEADROOM]` (valid until the next receive, the bytes
   * before it free for the caller to use); anything else goes to `sink` as
   * {@link receive} hands it over, and -1 is returned; 0 when nothing was
   * waiting. -1 also when it did not receive because {@link receive} must
   * (a TCP stream in the middle of a frame, or at its end). Throws as
   * `receive` does.
   */
  receiveLone?(sink: FrameSink): number;
  /** Where {@link receiveLone} leaves a frame body. */
  readonly loneInput?: Uint8Array;
  /** Closes the socket. */
  close(): void;
}

/** A transport failure that ends the link (the message says what and why). */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}
