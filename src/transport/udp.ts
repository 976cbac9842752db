/**
 * vtun frames over UDP (proto udp): one frame per datagram, with the same
 * 2-byte header as TCP, on a socket connected to the peer.
 *
 * On a `nat_hack` side the socket starts unconnected: nothing is sent until
 * the peer's first datagram arrives, whose source (the peer as the NAT
 * rewrote it) the socket is then connected to — vtund's behaviour.
 */
import { Errno, errnoName } from "../../ffi/errno.ts";
import { MSG_NOSIGNAL, MSG_PEEK, type Libc } from "../../ffi/libc.ts";
import {
  bodyLength,
  CONTROL_MASK,
  HEADER_SIZE,
  LENGTH_MASK,
  MAX_FRAME_BODY,
  readHeader,
  writeControlHeader,
  writeDataHeader,
} from "../protocol/frame.ts";
import { TransportError, type FrameSink, type FrameTransport, type ReceiveStatus } from "./transport.ts";

// Room for the largest frame a 12-bit length can describe; anything longer is
// truncated by recv() and then fails the size check.
const DATAGRAM_MAX = HEADER_SIZE + LENGTH_MASK + 1;
// Datagrams read per receive() call, so one direction cannot starve the other.
const RECEIVE_BATCH = 64;

/** Frames on a connected UDP socket. */
export class UdpFrameTransport implements FrameTransport {
  readonly kind = "udp";
  readonly backlog = 0;
  readonly sendBuffer = new Uint8Array(DATAGRAM_MAX);
  private readonly input = new Uint8Array(DATAGRAM_MAX);
  private readonly control = new Uint8Array(HEADER_SIZE);
  private closed = false;
  /** Datagrams the kernel refused to queue (ENOBUFS/EAGAIN); vtund drops these too. */
  sendDrops = 0;

  /** NAT hack: still waiting for the peer's first datagram to learn its address. */
  private awaitingPeer: boolean;

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
    options: { awaitPeer?: boolean } = {},
  ) {
    this.awaitingPeer = options.awaitPeer ?? false;
  }

  /** NAT hack: connects the socket to the source of the first waiting datagram. */
  private learnPeer(): boolean {
    const addr = new Uint8Array(28);
    const addrLen = new Uint32Array([addr.length]);
    const r = this.libc.recvfrom(this.fd, this.input, 0, 1, MSG_PEEK, addr, addrLen);
    if (r < 0) {
      if (r === -Errno.EAGAIN || r === -Errno.EINTR) return false;
      throw this.failure("recvfrom", r);
    }
    const c = this.libc.connect(this.fd, addr, addrLen[0]!);
    if (c < 0) throw this.failure("connect", c);
    this.awaitingPeer = false;
    return true;
  }

  receive(sink: FrameSink): ReceiveStatus {
    if (this.awaitingPeer && !this.learnPeer()) return "ok";
    for (let i = 0; i < RECEIVE_BATCH; i++) {
      const r = this.libc.recv(this.fd, this.input, 0, DATAGRAM_MAX, 0);
      if (r < 0) {
        if (r === -Errno.EAGAIN || r === -Errno.EINTR) return "ok";
        throw this.failure("recv", r);
      }
      if (r < HEADER_SIZE) {
        sink.onBadFrame(`datagram of ${r} bytes`);
        continue;
      }
      const header = readHeader(this.input, 0);
      if (header & CONTROL_MASK) {
        if (r !== HEADER_SIZE) sink.onBadFrame(`control datagram of ${r} bytes`);
        else sink.onControl(header & CONTROL_MASK);
        continue;
      }
      const length = bodyLength(header);
      if (r - HEADER_SIZE !== length || length > MAX_FRAME_BODY) {
        sink.onBadFrame(`datagram of ${r} bytes with a header for ${length}`);
        continue;
      }
      if (length > 0) sink.onData(this.input, HEADER_SIZE, length);
    }
    return "ok";
  }

  reserveData(_maxLength: number): number {
    return this.closed ? -1 : HEADER_SIZE;
  }

  commitData(length: number): boolean {
    writeDataHeader(this.sendBuffer, 0, length);
    return this.sendDatagram(this.sendBuffer, HEADER_SIZE + length);
  }

  sendControl(control: number): boolean {
    if (this.closed) return false;
    writeControlHeader(this.control, 0, control);
    return this.sendDatagram(this.control, HEADER_SIZE);
  }

  private sendDatagram(buf: Uint8Array, length: number): boolean {
    if (this.awaitingPeer) return true; // vtund drops what a NAT-hack side sends before it knows the peer
    const r = this.libc.send(this.fd, buf, 0, length, MSG_NOSIGNAL);
    if (r >= 0) return true;
    if (r === -Errno.EAGAIN || r === -Errno.ENOBUFS || r === -Errno.EINTR) {
      this.sendDrops++;
      return false;
    }
    throw this.failure("send", r);
  }

  private failure(call: string, r: number): TransportError {
    if (r === -Errno.ECONNREFUSED) {
      return new TransportError(`udp: peer unreachable (${call}: ECONNREFUSED; its UDP port is closed)`);
    }
    return new TransportError(`udp: ${call} failed: ${errnoName(r)}`);
  }

  flush(): boolean {
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
