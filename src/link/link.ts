/**
 * The link: moves packets between a device and a frame transport, both ways,
 * and keeps the session alive. This is vtund's `lfd_linker` as an event-driven
 * core: a driver (poll_loop.ts in the daemon, a step loop in tests) calls
 * `pumpDevice`, `pumpTransport` and `tick` when there is something to do, and
 * watches `end`.
 *
 * Keepalive follows vtund: every `interval` seconds without a received frame
 * `idle` grows; from the second idle interval on an ECHO_REQ goes out; past
 * `maxFail` idle intervals the link ends with "network timeout". Any received
 * frame resets `idle`.
 *
 * A {@link BurstDevice} (a TUN with offloads) is read in bursts: every packet
 * of a burst becomes its own frame, as vtund sends it. Packets for it are
 * handed over as they arrive and it is told to write what it held back after
 * every transport receive, so merging adds no latency.
 *
 * On a tunnel at rest a wake-up brings one packet, and the batch machinery
 * is most of what it costs: the caches are cold then, and each layer a packet
 * goes through adds microseconds to the round trip. Where the device and the
 * transport offer it, the driver takes the idle path for a wake-up of the
 * device or of the socket alone ({@link sendLonePacket},
 * {@link receiveLoneFrame}): the packet is framed in place and sent at once,
 * a received frame written to the device in place, and only then are both
 * drained the batch way.
 *
 * A costly pipeline (zlib, Blowfish) takes milliseconds for one device batch.
 * Frames from the peer (the ACKs of the traffic being sent, ping replies)
 * must not wait for all of it: while it works through a batch, the link
 * looks at the transport every {@link SERVICE_INTERVAL_MS} and hands over
 * what arrived, as vtund's loop does between any two packets.
 */
import type { AnyDevice, BurstDevice, Device } from "../device/device.ts";
import { DeviceError } from "../device/device.ts";
import { errnoName } from "../../ffi/errno.ts";
import type { Logger } from "../log.ts";
import { CONN_CLOSE, controlName, ECHO_REP, ECHO_REQ, HEADER_SIZE, LONE_HEADROOM, MAX_FRAME_BODY, MAX_PACKET } from "../protocol/frame.ts";
import { TransportError, type FrameSink, type FrameTransport } from "../transport/transport.ts";
import { SCRATCH_SIZE, type Pipeline } from "./pipeline.ts";
import type { Shaper } from "./shaper.ts";
import { allocBytes, copyBytes } from "../bytes.ts";
import { compileSeparately } from "../runtime/jit_hints.ts";

/** Keepalive timing (vtund `keepalive interval:count`; `yes` = 30:4). */
export interface Keepalive {
  intervalSec: number;
  maxFail: number;
}

/** How a link behaves. */
export interface LinkOptions {
  /** Keepalive, or null when the session has it off. */
  keepalive: Keepalive | null;
  /** Send an ECHO_REQ as soon as the link starts (vtund does, except on a NAT-hack side). */
  initialEcho: boolean;
  /** Limits what this side sends (`speed`), or absent. */
  shaper?: Shaper;
  /** Calls `report` every `intervalMs` with the counters (`stat yes`), or absent. */
  stat?: { intervalMs: number; report(stats: LinkStats): void };
  /**
   * Drop received 1-byte packets instead of writing them to the device: they
   * are a peer's resync "dummy" frames (vtund sends one after a cipher resync),
   * never real packets on a tun or tap device. False for pipe and tty.
   */
  dropDummyPackets?: boolean;
  /** Monotonic milliseconds, for serving the transport during long device batches (default performance.now). */
  clock?: () => number;
}

/** Why a link ended. */
export type LinkEnd =
  | { kind: "closed-by-peer" } // CONN_CLOSE received
  | { kind: "eof" } //            the peer closed the TCP connection
  | { kind: "timeout" } //        keepalive gave up
  | { kind: "stopped"; why: string } // we were asked to stop (signal)
  | { kind: "error"; message: string }; // device or transport failure

/** Traffic counters of a link. */
export class LinkStats {
  /** Packets and bytes read from the device (sent to the peer). */
  packetsOut = 0;
  bytesOut = 0;
  /** Packets and bytes written to the device (received from the peer). */
  packetsIn = 0;
  bytesIn = 0;
  /** Frame body bytes on the wire, after/before the pipeline. */
  wireOut = 0;
  wireIn = 0;
  /** Device writes the kernel refused, by errno name. */
  readonly deviceDrops = new Map<string, number>();
  /** Device packets longer than a vtun frame can carry. */
  oversize = 0;
  /** Frames the transport discarded (bad length). */
  badFrames = 0;
  /** Frames the pipeline dropped (e.g. undecryptable). */
  decodeDrops = 0;
  /** Frames the transport could not queue. */
  sendDrops = 0;
  /** 1-byte resync frames received from the peer and dropped. */
  dummyFrames = 0;

  /** Zeroes every counter (vtund's SIGUSR1). */
  reset(): void {
    this.packetsOut = this.bytesOut = this.packetsIn = this.bytesIn = this.wireOut = this.wireIn = 0;
    this.oversize = this.badFrames = this.decodeDrops = this.sendDrops = this.dummyFrames = 0;
    this.deviceDrops.clear();
  }

  /** One-line summary for the session-closed log line. */
  summary(): string {
    const drops = [...this.deviceDrops].map(([code, n]) => `${n} ${code}`);
    if (this.oversize) drops.push(`${this.oversize} oversize`);
    if (this.badFrames) drops.push(`${this.badFrames} bad frames`);
    if (this.decodeDrops) drops.push(`${this.decodeDrops} undecodable`);
    if (this.sendDrops) drops.push(`${this.sendDrops} send-queue`);
    return `sent ${this.packetsOut} packets (${this.bytesOut} bytes), received ${this.packetsIn} packets (${this.bytesIn} bytes)` +
      (drops.length ? `, dropped ${drops.join(", ")}` : "");
  }
}

// Device reads per pumpDevice() call before the socket is written. FIRST_OUT: the first
// read of a call is written at once, before the read that finds the device empty: on an
// idle tunnel it is the only packet, and that empty read would delay it.
const DEVICE_BATCH = 64;
// Stop reading the device while this much is queued for a slow socket (backpressure).
const HIGH_WATER = 128 * 1024;
/** With a known send rate, the backlog stops at this many milliseconds of it instead (see Link.followSendRate)... */
export const LINK_QUEUE_MS = 10;
/** ...but not below this many bytes. */
export const LINK_QUEUE_MIN = 16 * 1024;

/** The backlog at which the link stops reading the device, for a transport sending `bytesPerSecond` (0: not known). */
export function linkQueueFor(bytesPerSecond: number): number {
  if (!(bytesPerSecond > 0)) return HIGH_WATER;
  return Math.min(HIGH_WATER, Math.max(LINK_QUEUE_MIN, Math.round((bytesPerSecond * LINK_QUEUE_MS) / 1000)));
}
// A device read gets one byte more than a frame may carry, to recognise oversized packets.
const READ_CAPACITY = MAX_PACKET + 1;
/**
 * With a pipeline, the longest a device batch goes without a look at the
 * transport. One 64 KiB burst through zlib:1 takes about 1–2 ms, a batch up to
 * 64 of them; the peer's ACKs waited for the whole batch, which delayed the
 * inner TCP's ACK clock and doubled the loaded RTT of tcp+zlib:1. Every
 * {@link SERVICE_CHECK_FRAMES} frames the clock is read (a fast cipher then
 * pays 80 ns per 8 frames, and rarely reaches the interval); the interval
 * counts from the first check, so a batch of fewer frames reads no clock.
 */
export const SERVICE_INTERVAL_MS = 0.25;
const SERVICE_CHECK_FRAMES = 8;

/** Every how many idle-path wake-ups a drain is tried while drains find nothing (see {@link DrainPolicy}). */
const DRAIN_PROBE = 8;

/**
 * Whether the idle path reads on after its one packet (until the device or
 * socket is empty) or goes back to poll(). On a tunnel at rest the read finds
 * nothing, and only holds the thread from sleeping while the peer's thread,
 * on a 2-CPU machine often waiting for the same CPU, has the reply to send;
 * poll() is level-triggered, so nothing is missed. In a stream of small
 * packets, though, draining saves a poll() per packet. So: drain while
 * drains find more, and otherwise every {@link DRAIN_PROBE}th wake-up, to
 * notice a stream starting.
 */
export class DrainPolicy {
  private draining = true;
  private skipped = 0;

  /** True when this wake-up should drain. */
  due(): boolean {
    if (this.draining) return true;
    if (++this.skipped < DRAIN_PROBE) return false;
    this.skipped = 0;
    return true;
  }

  /** What the drain found: more packets keep the draining on. */
  found(more: boolean): void {
    this.draining = more;
  }
}

/** One tunnel link between a device and a transport. */
export class Link implements FrameSink {
  /** Set once the link has ended; the driver stops then. */
  end: LinkEnd | null = null;
  readonly stats = new LinkStats();
  private idle = 0;
  private nextTick = Number.POSITIVE_INFINITY;
  private nextStat = Number.POSITIVE_INFINITY;
  private readonly plain = allocBytes(READ_CAPACITY);
  /** The device when it is read in bursts, else null. */
  private readonly burst: BurstDevice | null;
  /** Most bytes the pipeline adds to a packet. */
  private readonly overhead: number;
  private readonly clock: () => number;
  /** True during a device batch that goes through the pipeline (see SERVICE_INTERVAL_MS). */
  private serving = false;
  /** When the transport is looked at next during the batch (clock ms). */
  private serveAt = 0;
  private framesSinceCheck = 0;
  /** The transport's maxFrame last passed on to the burst device (-1: none yet). */
  private frameLimit = -1;
  /** True when the driver may call {@link sendLonePacket}. */
  readonly canSendLone: boolean;
  /** True when the driver may call {@link receiveLoneFrame}. */
  readonly canReceiveLone: boolean;
  /** The idle path's encoded frame (header first), with stages. */
  private readonly loneOut: Uint8Array | null;
  /** The idle path's decoded packet, with headroom in front, with stages. */
  private readonly loneIn: Uint8Array | null;
  /** No stages: packets pass unchanged (the pipeline's isEmpty, read once: the idle path touches no more than it must). */
  private readonly direct: boolean;
  private readonly dropDummyPackets: boolean;
  /** Whether the idle path drains the device, and the socket, after its packet. */
  private readonly deviceDrain = new DrainPolicy();
  private readonly socketDrain = new DrainPolicy();
  /** Where {@link unpackFrame} left the packet of a received frame. */
  private inPacket: Uint8Array;
  private inAt = 0;
  /** Stop reading the device at this backlog (see {@link followSendRate}). */
  private highWater = HIGH_WATER;
  /** The transport's sendRate that {@link highWater} was set for. */
  private sendRate = 0;

  constructor(
    readonly device: AnyDevice,
    readonly transport: FrameTransport,
    private readonly pipeline: Pipeline,
    private readonly options: LinkOptions,
    private readonly log: Logger,
  ) {
    this.burst = device.burst ? device : null;
    this.overhead = pipeline.maxEncoded(0);
    this.clock = options.clock ?? (() => performance.now());
    const b = this.burst;
    // The shaper meters every packet; the idle path is for links that send as they read.
    this.canSendLone = b !== null && b.readLone !== undefined && b.loneBuffer !== undefined && transport.sendLone !== undefined &&
      options.shaper === undefined;
    this.canReceiveLone = b !== null && b.writeLone !== undefined && transport.receiveLone !== undefined && transport.loneInput !== undefined;
    this.direct = pipeline.isEmpty;
    this.dropDummyPackets = options.dropDummyPackets ?? false;
    this.loneOut = pipeline.isEmpty ? null : allocBytes(HEADER_SIZE + MAX_PACKET + this.overhead);
    this.loneIn = pipeline.isEmpty ? null : allocBytes(LONE_HEADROOM + SCRATCH_SIZE);
    this.inPacket = this.plain;
    if (transport.sendRate !== undefined) {
      device.queueByTime?.(() => transport.sendRate ?? 0, (message) => log.info(message));
    }
    // The per-packet callbacks between the layers stay compile units of their own (see jit_hints.ts).
    compileSeparately(this.sendPacket);
    compileSeparately(this.onData);
  }

  /** Starts the link at time `nowMs` (monotonic ms): sends the first ECHO_REQ. */
  start(nowMs: number): void {
    if (this.options.keepalive) this.nextTick = nowMs + this.options.keepalive.intervalSec * 1000;
    if (this.options.stat) this.nextStat = nowMs + this.options.stat.intervalMs;
    if (this.options.initialEcho) this.sendEcho();
  }

  /** True while the link wants device packets (false while the socket is backed up). */
  get wantsDevice(): boolean {
    return this.end === null && this.transport.backlog < this.highWater && (this.options.shaper?.allows() ?? true);
  }

  /** True while the link takes frames from the transport (false while a slow device program lags). */
  get wantsTransport(): boolean {
    return (this.device.backlog ?? 0) < HIGH_WATER;
  }

  /** Writes out what a stream device still holds. */
  flushDevice(): void {
    try {
      this.device.flush?.();
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * True when `tick` has clock-driven work (keepalive or stat). Without it
   * the driver need not read the clock at all: each read is a runtime call
   * that costs microseconds when the thread wakes up cold.
   */
  get needsClock(): boolean {
    return this.nextTick !== Number.POSITIVE_INFINITY || this.nextStat !== Number.POSITIVE_INFINITY;
  }

  /** Milliseconds until `tick` has work (keepalive, stat, or the shaper allowing more), or -1 for none. */
  msUntilTick(nowMs: number): number {
    let ms = Math.min(this.nextTick, this.nextStat) - nowMs;
    const shaper = this.options.shaper;
    if (shaper && this.end === null && this.transport.backlog < this.highWater) {
      const wait = shaper.msUntilAllowed();
      if (wait > 0) ms = Math.min(ms, wait);
    }
    return ms === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.ceil(ms));
  }

  /** Zeroes the traffic counters (SIGUSR1). */
  resetStats(): void {
    this.stats.reset();
  }

  /** Moves waiting device packets to the transport, then writes them out. */
  pumpDevice(): void {
    try {
      if (!this.direct) this.startServing();
      this.followSendRate();
      if (this.burst) this.readBursts(this.burst);
      else this.readPackets(this.device as Device);
      this.transport.flush();
    } catch (e) {
      this.fail(e);
    } finally {
      this.serving = false;
    }
  }

  /**
   * Keeps the link's queue to {@link LINK_QUEUE_MS} of the transport's send rate.
   * 128 KiB waiting for the socket is 0.2 ms at 5 Gbit/s but 50 ms at 20
   * Mbit/s, and on a slow link it is always full (the socket takes only a
   * few milliseconds' worth, see unsent_limit.ts). The device's queue is
   * sized the same way (Device.queueByTime, set up in the constructor).
   */
  private followSendRate(): void {
    const rate = this.transport.sendRate;
    if (rate === undefined || rate === this.sendRate) return;
    this.sendRate = rate;
    this.highWater = linkQueueFor(rate);
  }

  /**
   * The idle path, device side: the driver calls this instead of
   * {@link pumpDevice} when the device alone woke it. A read that is one
   * packet is framed in place, in front of the packet, and sent at once (no
   * burst callback, no send queue); a burst goes the batch way. Then the
   * device is drained as pumpDevice drains it.
   */
  sendLonePacket(): void {
    const device = this.burst!;
    let n = 0;
    try {
      // A burst read instead goes through the stages as any batch does, serving the transport.
      if (!this.direct) this.startServing();
      this.applyFrameLimit(device);
      n = device.readLone!(this.sendPacket);
      if (n > 0) this.sendLone(device.loneBuffer!, LONE_HEADROOM, n);
      else if (n < 0) this.transport.flush(); // see FIRST_OUT
    } catch (e) {
      this.fail(e);
    } finally {
      this.serving = false;
    }
    if (n === 0 || this.end !== null || !this.wantsDevice) return;
    if (n < 0 || this.deviceDrain.due()) {
      const sent = this.stats.packetsOut;
      this.pumpDevice();
      this.deviceDrain.found(this.stats.packetsOut !== sent);
    }
  }

  /**
   * The idle path, network side: the driver calls this instead of
   * {@link pumpTransport} when the socket alone woke it. A receive that is
   * one data frame (a datagram, or a TCP read of exactly one frame) goes to
   * the device at once, in place; then the device is
   * read, as the kernel often answers inside that write (a ping, an ACK);
   * then the socket is drained as pumpTransport drains it.
   */
  receiveLoneFrame(): void {
    const t = this.transport;
    let n = 0;
    try {
      n = t.receiveLone!(this);
      if (n > 0) this.deliverLone(t.loneInput!, LONE_HEADROOM, n);
    } catch (e) {
      this.fail(e);
    }
    if (n === 0 || this.end !== null) return;
    if (n > 0 && this.wantsDevice) {
      if (this.canSendLone) this.sendLonePacket();
      else this.pumpDevice();
    }
    // Anything but a lone data frame (control frames, coalesced datagrams) ends the batch way:
    // held-back device writes and echo replies go out there.
    if (n > 0 && !this.socketDrain.due()) return;
    const delivered = this.stats.packetsIn;
    this.pumpTransport();
    if (n > 0) this.socketDrain.found(this.stats.packetsIn !== delivered);
    if (this.stats.packetsIn !== delivered && this.end === null && this.wantsDevice) this.pumpDevice();
  }

  private startServing(): void {
    this.serving = true;
    // Set at the first check: a lone packet (an idle ping) never reads the clock.
    this.serveAt = -1;
    this.framesSinceCheck = 0;
  }

  /** Over UDP, TCP packets are cut to fit one unfragmented datagram (see GsoSplitter.maxPacket). */
  private applyFrameLimit(device: BurstDevice): void {
    const maxFrame = this.transport.maxFrame ?? 0;
    if (maxFrame !== this.frameLimit) {
      this.frameLimit = maxFrame;
      device.limitPacketLength(maxFrame > 0 ? Math.max(0, maxFrame - HEADER_SIZE - this.overhead) : 0);
    }
  }

  /** Frames and sends the `n`-byte packet at `buf[at]` (the bytes before it are free) at once, or queues it behind frames waiting. */
  private sendLone(buf: Uint8Array, at: number, n: number): void {
    if (n > MAX_PACKET) return this.dropOversize();
    const t = this.transport;
    // Without stages the packet is its own frame body, where it lies.
    const body = this.direct ? buf : this.loneOut!;
    const bodyAt = this.direct ? at : HEADER_SIZE;
    const length = this.encodeFrame(buf, at, n, body, bodyAt);
    if (length === 0) return;
    if (!t.sendLone!(body, bodyAt, length)) {
      const q = t.reserveData(length);
      if (q < 0) this.stats.sendDrops++;
      else {
        copyBytes(body, bodyAt, length, t.sendBuffer, q);
        if (!t.commitData(length)) this.stats.sendDrops++;
      }
      t.flush();
    }
    if (!this.direct && this.pipeline.takeDummyRequest()) {
      this.sendDummy();
      t.flush();
    }
  }

  /** Writes the packet of the received frame `buf[at, at+n)` (the bytes before it are free) to the device at once. */
  private deliverLone(buf: Uint8Array, at: number, n: number): void {
    const m = this.unpackFrame(buf, at, n);
    if (m === 0) return;
    let packet = this.inPacket;
    let packetAt = this.inAt;
    if (packet !== buf) {
      // Decoded into the pipeline's buffer: give it headroom.
      copyBytes(packet, packetAt, m, this.loneIn!, LONE_HEADROOM);
      packet = this.loneIn!;
      packetAt = LONE_HEADROOM;
    }
    const r = this.burst!.writeLone!(packet, packetAt, m);
    if (r < 0) return this.deviceRefused(r);
    this.stats.packetsIn++;
    this.stats.bytesIn += m;
  }

  /** During a pipeline batch: every SERVICE_INTERVAL_MS, sends what is ready and takes what the peer sent. */
  private serveTransportDuringBatch(): void {
    if (++this.framesSinceCheck < SERVICE_CHECK_FRAMES) return;
    this.framesSinceCheck = 0;
    const now = this.clock();
    if (this.serveAt < 0) this.serveAt = now + SERVICE_INTERVAL_MS;
    if (now < this.serveAt) return;
    this.serveAt = now + SERVICE_INTERVAL_MS;
    this.transport.flush();
    if (this.wantsTransport) this.receiveFrames();
  }

  /** One packet per read; without stages it is read straight into the socket's send buffer. */
  private readPackets(device: Device): void {
    const t = this.transport;
    const direct = this.direct;
    const shaper = this.options.shaper;
    for (let i = 0; i < DEVICE_BATCH && t.backlog < this.highWater && this.end === null; i++) {
      if (shaper && !shaper.allows()) break;
      const at = t.reserveData(READ_CAPACITY + this.overhead);
      if (at < 0) break;
      const n = direct ? device.readPacket(t.sendBuffer, at, READ_CAPACITY) : device.readPacket(this.plain, 0, READ_CAPACITY);
      if (n === 0) break;
      if (n > MAX_PACKET) this.dropOversize();
      else if (direct) this.queuePacket(t.sendBuffer, at, n, at);
      else this.queuePacket(this.plain, 0, n, at);
      if (i === 0) t.flush(); // see FIRST_OUT
      if (this.serving) this.serveTransportDuringBatch();
    }
  }

  /** A burst per read; {@link sendPacket} frames each of its packets. */
  private readBursts(device: BurstDevice): void {
    const t = this.transport;
    this.applyFrameLimit(device);
    const shaper = this.options.shaper;
    for (let i = 0; i < DEVICE_BATCH && t.backlog < this.highWater && this.end === null; i++) {
      if (shaper && !shaper.allows()) break;
      if (!device.readBurst(this.sendPacket)) break;
      if (i === 0) t.flush(); // see FIRST_OUT
    }
  }

  /**
   * Frames one packet of a burst (a bound function: no closure per burst).
   * The burst's packets are views into the device's read buffer, which
   * serving the transport in between leaves alone (writes have their own).
   */
  private readonly sendPacket = (buf: Uint8Array, off: number, n: number): void => {
    if (n > MAX_PACKET) return this.dropOversize();
    const at = this.transport.reserveData(n + this.overhead);
    if (at < 0) {
      this.stats.sendDrops++;
      return;
    }
    this.queuePacket(buf, off, n, at);
    if (this.serving) this.serveTransportDuringBatch();
  };

  /**
   * Encodes (or copies) the `n`-byte packet at `src[srcAt]` into the send
   * buffer at the reserved offset `at` and queues the frame. A packet read
   * straight into the send buffer (`src[srcAt]` is `at`) is not copied.
   */
  private queuePacket(src: Uint8Array, srcAt: number, n: number, at: number): void {
    const t = this.transport;
    const length = this.encodeFrame(src, srcAt, n, t.sendBuffer, at);
    if (length === 0) return;
    if (!t.commitData(length)) this.stats.sendDrops++;
    // A cipher that just sent "rsyn" asks for a dummy frame right behind it (vtund does).
    if (!this.direct && this.pipeline.takeDummyRequest()) this.sendDummy();
  }

  /**
   * Counts the `n`-byte packet at `src[srcAt]` as sent and encodes (or
   * copies) it into `dst[dstAt]` as a frame body; a packet already in place
   * is not copied. Returns the body's length, or 0 when there is nothing to
   * send (a stage dropped it, or it would be longer than vtund accepts).
   */
  private encodeFrame(src: Uint8Array, srcAt: number, n: number, dst: Uint8Array, dstAt: number): number {
    this.stats.packetsOut++;
    this.stats.bytesOut += n;
    let length = n;
    if (!this.direct) length = this.pipeline.encode(src, srcAt, n, dst, dstAt);
    else if (src !== dst || srcAt !== dstAt) copyBytes(src, srcAt, n, dst, dstAt);
    if (length === 0 || !this.frameFits(length)) return 0;
    this.stats.wireOut += length;
    this.options.shaper?.consume(length);
    return length;
  }

  /** False, and warns once, for a frame body longer than vtund accepts: do not send what the peer must discard. */
  private frameFits(length: number): boolean {
    if (length <= MAX_FRAME_BODY) return true;
    if (this.stats.oversize++ === 0) this.log.warn(`dropping a packet that encodes to ${length} bytes (more than ${MAX_FRAME_BODY}); lower the MTU`);
    return false;
  }

  private dropOversize(): void {
    if (this.stats.oversize++ === 0) {
      this.log.warn(`dropping device packets longer than ${MAX_PACKET} bytes (lower the interface MTU)`);
    }
  }

  /** Reads frames from the transport and handles them (data to the device, control frames here). */
  pumpTransport(): void {
    try {
      this.receiveFrames();
    } catch (e) {
      this.fail(e);
    }
  }

  /** One transport receive: frames handled, held-back device writes and queued replies written out. */
  private receiveFrames(): void {
    if (this.transport.receive(this) === "eof" && this.end === null) this.end = { kind: "eof" };
    // What a burst device held back to merge is written now: merging never delays a packet.
    if (this.burst) {
      const r = this.burst.endWrites();
      if (r < 0) this.deviceRefused(r);
    }
    // Echo replies (and anything else queued while handling frames) go out now.
    this.transport.flush();
  }

  /** Writes queued frames the socket could not take earlier. */
  flushTransport(): void {
    try {
      this.transport.flush();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Runs keepalive bookkeeping due at `nowMs`. */
  tick(nowMs: number): void {
    const stat = this.options.stat;
    if (stat && nowMs >= this.nextStat) {
      this.nextStat = nowMs + stat.intervalMs;
      stat.report(this.stats);
    }
    const ka = this.options.keepalive;
    if (!ka || this.end !== null || nowMs < this.nextTick) return;
    this.nextTick = nowMs + ka.intervalSec * 1000;
    if (this.idle > ka.maxFail) {
      this.end = { kind: "timeout" };
      return;
    }
    if (this.idle++ > 0) this.sendEcho();
  }

  private sendEcho(): void {
    try {
      this.transport.sendControl(ECHO_REQ);
      this.transport.flush();
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Sends a 1-byte data frame through the pipeline, as vtund's `send_a_packet`
   * does to carry a cipher resync (`rsyn`, or a fresh `ivec` header).
   */
  private sendDummy(): void {
    try {
      const t = this.transport;
      // Encoding a dummy may itself ask for one more (rsyn, then a fresh ivec): at most a few.
      for (let i = 0; i < 3; i++) {
        const at = t.reserveData(this.pipeline.maxEncoded(1));
        if (at < 0) return;
        const length = this.pipeline.encode(this.plain, 0, 1, t.sendBuffer, at);
        if (length > 0 && !t.commitData(length)) this.stats.sendDrops++;
        if (!this.pipeline.takeDummyRequest()) break;
      }
    } catch (e) {
      this.fail(e);
    }
  }

  /** Ends the link on request (signal, shutdown). */
  stop(why: string): void {
    if (this.end === null) this.end = { kind: "stopped", why };
  }

  /**
   * Tells the peer we are closing (CONN_CLOSE, best effort) unless it already
   * closed or the connection failed. Does not close the device or transport.
   */
  sayGoodbye(): void {
    const end = this.end;
    if (end === null || end.kind === "closed-by-peer" || end.kind === "eof" || end.kind === "error") return;
    try {
      this.transport.sendControl(CONN_CLOSE);
      this.transport.flush();
    } catch {
      // The peer is unreachable; it will find out by itself.
    }
  }

  // FrameSink ---------------------------------------------------------------

  /** @internal A data frame arrived. */
  onData(buf: Uint8Array, offset: number, length: number): void {
    const n = this.unpackFrame(buf, offset, length);
    if (n === 0) return;
    const r = this.device.writePacket(this.inPacket, this.inAt, n);
    if (r < 0) {
      this.deviceRefused(r);
      // A burst device refused an earlier, held-back write: this packet itself was taken.
      if (this.burst === null) return;
    }
    this.stats.packetsIn++;
    this.stats.bytesIn += n;
  }

  /**
   * The packet of a received data frame: decoded when there are stages,
   * counted. Returns its length, the packet at `inPacket[inAt]`, or 0 when
   * there is nothing to write (a decode drop, a peer's resync dummy).
   */
  private unpackFrame(buf: Uint8Array, offset: number, length: number): number {
    this.idle = 0;
    this.stats.wireIn += length;
    let n = length;
    this.inPacket = buf;
    this.inAt = offset;
    if (!this.direct) {
      n = this.pipeline.decode(buf, offset, length);
      // A cipher that lost sync asks us to send vtund's 1-byte dummy frame (see src/crypto).
      if (this.pipeline.takeDummyRequest()) this.sendDummy();
      if (n === 0) {
        this.stats.decodeDrops++;
        return 0;
      }
      this.inPacket = this.pipeline.decoded;
      this.inAt = 0;
    }
    if (n === 1 && this.dropDummyPackets) {
      this.stats.dummyFrames++;
      return 0;
    }
    return n;
  }

  /** Counts a device write the kernel refused (`r` = -errno) and says so once per errno. */
  private deviceRefused(r: number): void {
    const code = errnoName(r);
    const seen = this.stats.deviceDrops.get(code) ?? 0;
    this.stats.deviceDrops.set(code, seen + 1);
    if (seen === 0) {
      // EIO right after start-up is expected: the peer's first packets beat our `up` commands.
      if (code === "EIO") this.log.info(`${this.device.name} is not up yet (EIO): dropping packets until it is`);
      else this.log.warn(`${this.device.name}: kernel refused a packet: ${code}${code === "EINVAL" ? " (malformed packet)" : ""}; dropping such packets`);
    }
  }

  /** @internal A control frame arrived. */
  onControl(control: number): void {
    this.idle = 0;
    switch (control) {
      case ECHO_REQ:
        if (!this.transport.sendControl(ECHO_REP)) this.stats.sendDrops++;
        break;
      case ECHO_REP:
        break;
      case CONN_CLOSE:
        if (this.end === null) this.end = { kind: "closed-by-peer" };
        break;
      default:
        this.log.debug(`ignoring ${controlName(control)}`);
    }
  }

  /** @internal The transport discarded a frame. */
  onBadFrame(reason: string): void {
    if (this.stats.badFrames++ === 0) this.log.warn(`Received bad frame: ${reason}`);
  }

  /** Device and transport failures end the link; anything else is a bug and propagates. */
  private fail(e: unknown): void {
    if (!(e instanceof TransportError || e instanceof DeviceError)) throw e;
    if (this.end === null) this.end = { kind: "error", message: e.message };
  }
}
