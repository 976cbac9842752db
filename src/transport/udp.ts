/**
 * vtun frames over UDP (proto udp): one frame per datagram, with the same
 * 2-byte header as TCP, on a socket connected to the peer.
 *
 * Frames are queued back to back and written by {@link flush} (the link
 * flushes after every batch, so nothing waits longer than one wake-up). Where
 * the kernel supports it, runs of equal-size frames go out in one send with
 * UDP GSO (`UDP_SEGMENT`), and with `UDP_GRO` one receive may return several
 * datagrams; on the wire every frame is still its own datagram, so a vtund
 * peer sees no difference (see udp_gso.ts).
 *
 * On a `nat_hack` side the socket starts unconnected: nothing is sent until
 * the peer's first datagram arrives, whose source (the peer as the NAT
 * rewrote it) the socket is then connected to — vtund's behaviour.
 */
import { Errno, errnoName } from "../../ffi/errno.ts";
import { MSG_NOSIGNAL, MSG_PEEK, type Libc } from "../../ffi/libc.ts";
import { HEADER_SIZE, isWholeDataFrame, LONE_HEADROOM, readHeader, writeControlHeader, writeDataHeader } from "../protocol/frame.ts";
import { TransportError, type FrameSink, type FrameTransport, type ReceiveStatus } from "./transport.ts";
import { deliverDatagrams, frameSize, GSO_MAX_BYTES, GSO_MAX_SEGMENTS, gsoRunEnd } from "./udp_gso.ts";
import { allocBytes } from "../bytes.ts";
import { setIntSocketOption } from "./socket.ts";

// Socket options (Linux): UDP GSO and GRO, and the path MTU of a connected socket.
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const UDP_GRO = 104;
const IPPROTO_IP = 0;
const IP_MTU = 14;
const IPPROTO_IPV6 = 41;
const IPV6_MTU = 24;

// One receive takes a GRO batch of up to 64 KiB (a single datagram is at most 4 KiB).
const IN_SIZE = 65536;
// Queued frames: a few GSO runs, like the TCP transport's output buffer.
const OUT_SIZE = 256 * 1024;
// Receives per receive() call and bytes after which it stops, so one direction cannot starve the other.
const RECEIVE_BATCH = 64;
const RECEIVE_BYTES = 256 * 1024;

/** What {@link UdpFrameTransport.sendRun} did with a run. */
const enum Sent {
  Done, //  sent, or dropped for good
  Again, // the socket is full: keep it for POLLOUT
  Retry, // send the same frames again (as single datagrams now)
}

/** Options of a {@link UdpFrameTransport}. */
export interface UdpOptions {
  /** NAT hack: wait for the peer's first datagram to learn its address. */
  awaitPeer?: boolean;
  /** Send runs of equal-size frames with UDP_SEGMENT where the kernel has it (default true). */
  gso?: boolean;
  /** Receive coalesced datagrams with UDP_GRO where the kernel has it (default true). */
  gro?: boolean;
}

/** Frames on a connected UDP socket. */
export class UdpFrameTransport implements FrameTransport {
  readonly kind = "udp";
  // Room in front for a receiveLone() body at LONE_HEADROOM.
  private readonly input = allocBytes(LONE_HEADROOM - HEADER_SIZE + IN_SIZE);
  private readonly output = allocBytes(OUT_SIZE);
  private outStart = 0;
  private outEnd = 0;
  private closed = false;
  /** Datagrams the kernel refused to queue (ENOBUFS, or too large); vtund drops these too. */
  sendDrops = 0;
  /** True when receives may return several datagrams (UDP_GRO is on). */
  readonly coalesced: boolean;
  /** True when the kernel accepted UDP_SEGMENT. */
  readonly gsoAvailable: boolean;
  // Largest frame that may go out in a GSO run (0: none; lowered when the kernel refuses a size).
  private gsoMax = 0;
  // The UDP_SEGMENT value currently set on the socket (0: off).
  private socketSegment = 0;
  private pathMtuFrame = 0;
  private readonly intBuf = new Uint8Array(4);
  private readonly intView = new DataView(this.intBuf.buffer);

  /** NAT hack: still waiting for the peer's first datagram to learn its address. */
  private awaitingPeer: boolean;

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
    options: UdpOptions = {},
  ) {
    this.awaitingPeer = options.awaitPeer ?? false;
    this.coalesced = (options.gro ?? true) && this.setInt(SOL_UDP, UDP_GRO, 1);
    this.gsoAvailable = (options.gso ?? true) && this.setInt(SOL_UDP, UDP_SEGMENT, 0);
    if (!this.awaitingPeer) this.learnPathMtu();
  }

  /** See {@link FrameTransport.maxFrame}: what fits one unfragmented datagram on the path (0 = not known yet). */
  get maxFrame(): number {
    return this.pathMtuFrame;
  }

  get backlog(): number {
    return this.outEnd - this.outStart;
  }

  /** See {@link FrameTransport.sendBuffer}. */
  get sendBuffer(): Uint8Array {
    return this.output;
  }

  private setInt(level: number, name: number, value: number): boolean {
    return setIntSocketOption(this.libc, this.fd, level, name, value) === 0;
  }

  /** Reads the connected socket's path MTU; GSO runs must fit it (the kernel cannot fragment them). */
  private learnPathMtu(): void {
    const len = new Uint32Array([4]);
    // An IPv6 socket answers IPV6_MTU (an IPv4 one refuses it); count the larger IPv6 header then.
    let overhead = 48;
    let r = this.libc.getsockopt(this.fd, IPPROTO_IPV6, IPV6_MTU, this.intBuf, len);
    if (r < 0) {
      overhead = 28;
      len[0] = 4;
      r = this.libc.getsockopt(this.fd, IPPROTO_IP, IP_MTU, this.intBuf, len);
    }
    const mtu = r < 0 ? 0 : this.intView.getInt32(0, true);
    this.pathMtuFrame = mtu > overhead ? mtu - overhead : 0;
    if (this.gsoAvailable) this.gsoMax = this.pathMtuFrame;
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
    this.learnPathMtu();
    return true;
  }

  receive(sink: FrameSink): ReceiveStatus {
    if (this.awaitingPeer && !this.learnPeer()) return "ok";
    let bytes = 0;
    for (let i = 0; i < RECEIVE_BATCH && bytes < RECEIVE_BYTES; i++) {
      const r = this.libc.recv(this.fd, this.input, 0, IN_SIZE, 0);
      if (r < 0) {
        if (r === -Errno.EAGAIN || r === -Errno.EINTR) return "ok";
        throw this.failure("recv", r);
      }
      bytes += r;
      deliverDatagrams(this.input, r, this.coalesced, sink);
    }
    return "ok";
  }

  /** Makes room for `n` more bytes at the end of the queue. */
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
    // vtund drops what a NAT-hack side sends before it knows the peer.
    if (this.awaitingPeer) this.outStart = this.outEnd;
    const out = this.output;
    while (this.outStart < this.outEnd) {
      const start = this.outStart;
      const seg = frameSize(out, start);
      const end = seg <= this.gsoMax ? gsoRunEnd(out, start, this.outEnd, GSO_MAX_SEGMENTS, GSO_MAX_BYTES) : start + seg;
      const r = this.sendRun(out, start, end - start, seg);
      if (r === Sent.Again) return false;
      if (r === Sent.Done) this.outStart = end;
    }
    this.outStart = this.outEnd = 0;
    return true;
  }

  sendLone(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.closed || this.awaitingPeer || this.outEnd !== this.outStart) return false;
    const at = offset - HEADER_SIZE;
    const total = HEADER_SIZE + length;
    writeDataHeader(buf, at, length);
    for (;;) {
      const r = this.sendRun(buf, at, total, total);
      if (r === Sent.Done) return true;
      if (r === Sent.Again) return false;
    }
  }

  get loneInput(): Uint8Array {
    return this.input;
  }

  receiveLone(sink: FrameSink): number {
    if (this.awaitingPeer && !this.learnPeer()) return 0;
    const at = LONE_HEADROOM - HEADER_SIZE;
    const r = this.libc.recv(this.fd, this.input, at, IN_SIZE, 0);
    if (r < 0) {
      if (r === -Errno.EAGAIN || r === -Errno.EINTR) return 0;
      throw this.failure("recv", r);
    }
    if (r > HEADER_SIZE && isWholeDataFrame(readHeader(this.input, at), r)) return r - HEADER_SIZE;
    deliverDatagrams(this.input, r, this.coalesced, sink, at);
    return -1;
  }

  /**
   * Sends `buf[at, at+total)`: one datagram when `total === seg`, else a
   * GSO run of `seg`-byte datagrams (the last may be shorter).
   */
  private sendRun(buf: Uint8Array, at: number, total: number, seg: number): Sent {
    const gso = total > seg;
    // UDP_SEGMENT applies to every send: a run needs it equal to its frame size, and a single
    // datagram longer than it would be cut up, so switch it off for those.
    const want = gso ? seg : total > this.socketSegment ? 0 : this.socketSegment;
    if (want !== this.socketSegment) {
      if (this.setInt(SOL_UDP, UDP_SEGMENT, want)) this.socketSegment = want;
      else if (gso) {
        this.gsoMax = 0;
        return Sent.Retry;
      }
    }
    const r = this.libc.send(this.fd, buf, at, total, MSG_NOSIGNAL);
    if (r >= 0) return Sent.Done;
    if (r === -Errno.EAGAIN) return Sent.Again;
    if (r === -Errno.EINTR) return Sent.Retry;
    if (this.socketSegment !== 0 && (r === -Errno.EINVAL || r === -Errno.EMSGSIZE || r === -Errno.EIO)) {
      // The kernel will not segment at this size (e.g. the path MTU shrank): such frames go
      // singly from now on, without UDP_SEGMENT (which forbids IP fragmentation).
      if (gso) this.gsoMax = seg - 1;
      this.setInt(SOL_UDP, UDP_SEGMENT, 0);
      this.socketSegment = 0;
      return Sent.Retry;
    }
    // A full device queue, a datagram too large, or a local firewall rule refusing it (EPERM):
    // vtund drops the frame and keeps the link, and so do we.
    if (r === -Errno.ENOBUFS || r === -Errno.EMSGSIZE || r === -Errno.EPERM) {
      this.sendDrops += Math.ceil(total / seg);
      return Sent.Done;
    }
    throw this.failure("send", r);
  }

  private failure(call: string, r: number): TransportError {
    if (r === -Errno.ECONNREFUSED) {
      return new TransportError(`udp: peer unreachable (${call}: ECONNREFUSED; its UDP port is closed)`);
    }
    return new TransportError(`udp: ${call} failed: ${errnoName(r)}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
