/**
 * The TUN's transmit queue sized in time at the tunnel's rate.
 *
 * Packets the kernel routes into a TUN wait in its queue (txqueuelen
 * packets) until the daemon reads them; beyond it the kernel drops, and the
 * flows inside slow down. On a fast link the daemon keeps it empty. On a
 * slow one it is where the backlog waits, and a fixed length is a fixed
 * number of packets, not of milliseconds: 100 TSO segments averaged 11 KB
 * each on a 5 Mbit/s link, 1.8 s of it. The same holds where the daemon
 * is the slow part (zlib at 0.6 Gbit/s: 100 segments of 64 KiB are 85 ms).
 * So once a megabyte has been read, and every megabyte after, the length
 * is set to {@link TUN_QUEUE_MS} at the rate packets leave, in packets of
 * the size read meanwhile, never below {@link TUN_QUEUE_MIN_BYTES} or
 * {@link TUN_QUEUE_MIN_PACKETS} and never above the usual length (100 for
 * a TUN with TSO, vtund's 500 otherwise) or what an `up` command set.
 *
 * The rate is the lower of two: the tunnel's send rate (for TCP, the
 * connection's pacing rate), and the rate the reads came at while the
 * queue never ran empty (then the daemon read as fast as it could go on),
 * the highest such of the last {@link READ_RATE_WINDOW_MS}. On a veth the
 * pacing rate reads several GB/s whatever the daemon does; the reads tell
 * a compressing daemon's pace.
 */
import { errnoName } from "../../ffi/errno.ts";
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, type Libc } from "../../ffi/libc.ts";
import { encodeIfreq } from "./ifreq.ts";
import { RecentMax } from "../recent_max.ts";

/** ioctl SIOCGIFTXQLEN: reads an interface's transmit queue length (`struct ifreq` with the length as an int at 16). */
export const SIOCGIFTXQLEN = 0x8942;
/** ioctl SIOCSIFTXQLEN: sets it. */
export const SIOCSIFTXQLEN = 0x8943;

/**
 * Transmit queue length of a TUN with TSO. The kernel queues up to 500
 * packets (txqueuelen) for the daemon to read, and drops beyond: vtund's
 * 500 packets of at most 1500 bytes. With TSO a queued packet is a whole
 * segment of the sender's TCP, which Linux sizes from the flow's rate (at
 * least two MSS, up to 64 KiB; measured about 3 ms of a 20 Mbit/s link
 * each), so 500 of them held over a second of a single flow on a slow
 * link: on 20 Mbit/s under a cubic flow, a tcp tunnel's loaded ping took
 * 1.3 s (vtund 0.46 s) once the socket no longer kept the backlog. 100
 * keeps several milliseconds at the full 64 KiB, enough for the
 * scheduler's pauses at high rates; on a slower link {@link TunQueueSizer}
 * shortens it further.
 */
export const OFFLOAD_TX_QUEUE_LENGTH = 100;
/** The kernel's queue length for a new TUN (tun.c's TUN_READQ_SIZE), vtund's. */
export const TUN_TX_QUEUE_LENGTH = 500;

/** Queue allowed, in milliseconds at the tunnel's rate. */
export const TUN_QUEUE_MS = 10;
/** Least queue in bytes, so that a burst of small packets still fits on a slow link. */
export const TUN_QUEUE_MIN_BYTES = 24 * 1024;
/** Least queue in packets (a TCP flow's segments come in pairs at least). */
export const TUN_QUEUE_MIN_PACKETS = 4;
/** Bytes read between two looks at the rate. */
export const TUN_QUEUE_UPDATE_BYTES = 1024 * 1024;
/** How long a rate measured from the reads counts (the highest of the last 8 in this window). */
export const READ_RATE_WINDOW_MS = 1000;

/**
 * Sets the transmit queue length of interface `name` (what `ip link set NAME
 * txqueuelen N` sets; for a TUN, how many packets wait for the daemon's
 * reads before the kernel drops). Returns 0 or -errno (EPERM without
 * CAP_NET_ADMIN).
 */
export function setTxQueueLength(libc: Libc, name: string, length: number): number {
  const r = txQueueIoctl(libc, name, SIOCSIFTXQLEN, length);
  return r < 0 ? r : 0;
}

/** The transmit queue length of interface `name`, or -errno. */
export function getTxQueueLength(libc: Libc, name: string): number {
  return txQueueIoctl(libc, name, SIOCGIFTXQLEN, 0);
}

// Both are socket ioctls on an ifreq: any socket will do.
function txQueueIoctl(libc: Libc, name: string, request: number, length: number): number {
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fd;
  const ifreq = encodeIfreq(name, 0);
  const view = new DataView(ifreq.buffer);
  view.setInt32(16, length, true);
  const r = libc.ioctl(fd, request, ifreq);
  libc.close(fd);
  return r < 0 ? r : view.getInt32(16, true);
}

/**
 * The queue length for a tunnel sending `bytesPerSecond` whose reads
 * averaged `meanRead` bytes, at most `ceiling` packets.
 */
export function tunQueueLengthFor(bytesPerSecond: number, meanRead: number, ceiling: number): number {
  const bytes = Math.max(TUN_QUEUE_MIN_BYTES, (bytesPerSecond * TUN_QUEUE_MS) / 1000);
  const packets = Math.max(TUN_QUEUE_MIN_PACKETS, Math.ceil(bytes / Math.max(1, meanRead)));
  return Math.min(ceiling, packets);
}

/**
 * Keeps a TUN's txqueuelen at {@link tunQueueLengthFor} the rate packets
 * leave: `drainRate()` (bytes/s; 0 when not known: nothing is done), or the
 * pace of the reads while the queue stayed full if that is lower. The ceiling is the length the
 * interface has at the first look, or `usualLength` if that is more: an
 * `up` command may have set more, and a `persist keep` interface still has
 * what the last session set.
 */
export class TunQueueSizer {
  /** The length last set or found; 0 before the first look, -1 once the kernel refused (nothing more is tried). */
  length = 0;
  private ceiling = 0;
  private bytes = 0;
  private reads = 0;
  /** A read found the queue empty since the last look. */
  private emptied = true;
  private readonly readRates = new RecentMax(8, READ_RATE_WINDOW_MS);
  /** When the last look was (clock ms). */
  private lookedAt = 0;

  constructor(
    private readonly libc: Libc,
    private readonly name: string,
    private readonly usualLength: number,
    private readonly drainRate: () => number,
    private readonly onRefusal?: (message: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Called when a read found the queue empty. */
  afterEmptyRead(): void {
    this.emptied = true;
  }

  /** Called with the length of every non-empty read. */
  afterRead(bytes: number): void {
    this.bytes += bytes;
    this.reads++;
    if (this.bytes < TUN_QUEUE_UPDATE_BYTES) return;
    const meanRead = this.bytes / this.reads;
    const readRate = this.readPace();
    this.bytes = this.reads = 0;
    this.update(meanRead, readRate);
  }

  /**
   * The rate of the reads since the last look if the queue never ran empty
   * meanwhile (the daemon read as fast as it went on), as the highest such
   * of the last {@link READ_RATE_WINDOW_MS}; Infinity when none was.
   */
  private readPace(): number {
    const now = this.now();
    const full = !this.emptied;
    const ms = Math.max(0.001, now - this.lookedAt);
    this.lookedAt = now;
    this.emptied = false;
    const rate = full ? this.readRates.add((this.bytes * 1000) / ms, now) : this.readRates.max(now);
    return rate < 0 ? Number.POSITIVE_INFINITY : rate;
  }

  private update(meanRead: number, readRate: number): void {
    if (this.length < 0) return;
    const sendRate = this.drainRate();
    if (!(sendRate > 0)) return;
    const rate = Math.min(sendRate, readRate);
    if (this.length === 0) {
      const current = getTxQueueLength(this.libc, this.name);
      if (current < 0) return this.refused(errnoName(current));
      this.length = current;
      this.ceiling = Math.max(current, this.usualLength);
    }
    const length = tunQueueLengthFor(rate, meanRead, this.ceiling);
    // Only changes of a quarter or more: the kernel reallocates the queue each time.
    if (Math.abs(length - this.length) * 4 < this.length) return;
    const r = setTxQueueLength(this.libc, this.name, length);
    if (r < 0) return this.refused(errnoName(r));
    this.length = length;
  }

  private refused(why: string): void {
    this.length = -1;
    this.onRefusal?.(`${this.name}: cannot size txqueuelen to the link's rate (${why}); it stays as it is`);
  }
}
