/**
 * How much a TCP data connection may keep unsent (TCP_NOTSENT_LOWAT), as
 * time at the connection's own rate.
 *
 * The send buffer is 4 MiB, for data in flight on fast links. Left to fill
 * with unsent data, it is a queue of seconds on a slow one: a cubic flow
 * through a tcp tunnel on a 20 Mbit/s link kept 3 MB unsent and pings took
 * 1.3 s (vtund: 0.46 s). Held to a couple of milliseconds' worth, the
 * backlog waits in the TUN device's short queue instead, where the kernel
 * drops and the flows inside slow down. At several Gbit/s the same 2 ms is
 * over a megabyte, so a fast link never waits for the daemon to refill.
 *
 * The rate is the kernel's pacing rate of the connection (`tcpi_pacing_rate`:
 * about 1.2 times cwnd/RTT for cubic and reno, BBR's bandwidth estimate
 * times its gain), read every {@link UNSENT_UPDATE_BYTES} sent, so an idle
 * link makes no calls, and the highest of the last few is used (see
 * {@link RATE_WINDOW_MS}). It also sizes the link's queue and the TUN's (Link.followSendRate).
 */
import { IPPROTO_TCP, TCP_INFO, type Libc } from "../../ffi/libc.ts";
import { limitUnsent } from "./socket.ts";
import { RecentMax } from "../recent_max.ts";

/** Unsent data allowed, in milliseconds at the connection's pacing rate. */
export const UNSENT_MS = 2;
/** Least unsent data allowed (the kernel wakes a writer at half of it). */
export const UNSENT_MIN = 32 * 1024;
/** Most unsent data allowed: the send buffer's size, i.e. no limit. */
export const UNSENT_MAX = 4 * 1024 * 1024;
/** Limit before the first rate is known: about 50 ms at 20 Mbit/s, 0.2 ms at 5 Gbit/s. */
export const UNSENT_START = 128 * 1024;
/** Bytes sent between two looks at the rate. */
export const UNSENT_UPDATE_BYTES = 1024 * 1024;
/**
 * The rate used is the highest of the looks in the last {@link RATE_WINDOW_MS}
 * (at most {@link RATE_LOOKS} of them). BBR's pacing rate swings with its
 * probing: on a 5 Gbit/s veth looks a few milliseconds apart read from 0.05
 * to 16 GB/s, and a TUN queue sized from a low one dropped what it held. On
 * a slow link, where looks are far apart, each stands alone, so that the
 * high rate a new connection starts with is forgotten at the next look.
 */
export const RATE_WINDOW_MS = 250;
/** See {@link RATE_WINDOW_MS}. */
export const RATE_LOOKS = 8;

// struct tcp_info (linux/tcp.h): __u64 tcpi_pacing_rate (bytes/s) at byte 104.
const TCP_INFO_SIZE = 112;
const PACING_RATE_OFFSET = 104;

/** The unsent-data limit for a connection whose pacing rate is `bytesPerSecond`. */
export function unsentLimitFor(bytesPerSecond: number): number {
  const limit = Math.round((bytesPerSecond * UNSENT_MS) / 1000);
  return Math.min(UNSENT_MAX, Math.max(UNSENT_MIN, limit));
}

/** Keeps a TCP socket's TCP_NOTSENT_LOWAT at {@link unsentLimitFor} its pacing rate. */
export class UnsentLimit {
  /** The limit last set (0 when the kernel refused it: nothing more is tried). */
  limit = 0;
  /** The highest pacing rate of the last {@link RATE_LOOKS} looks (bytes/s; 0 before the first). */
  rate = 0;
  private readonly looks = new RecentMax(RATE_LOOKS, RATE_WINDOW_MS);
  private sent = 0;
  private readonly info = new Uint8Array(TCP_INFO_SIZE);
  private readonly infoView = new DataView(this.info.buffer);
  private readonly infoLength = new Uint32Array(1);

  constructor(private readonly libc: Libc, private readonly fd: number, private readonly now: () => number = () => performance.now()) {
    if (limitUnsent(libc, fd, UNSENT_START) === 0) this.limit = UNSENT_START;
  }

  /** Called with the bytes of every successful send. */
  afterSend(bytes: number): void {
    if (this.limit === 0) return;
    this.sent += bytes;
    if (this.sent < UNSENT_UPDATE_BYTES) return;
    this.sent = 0;
    this.update();
  }

  private update(): void {
    this.infoLength[0] = TCP_INFO_SIZE;
    if (this.libc.getsockopt(this.fd, IPPROTO_TCP, TCP_INFO, this.info, this.infoLength) < 0) return;
    if (this.infoLength[0]! < PACING_RATE_OFFSET + 8) return; // a kernel without the field (before 4.0)
    const v = this.infoView;
    const rate = this.looks.add(v.getUint32(PACING_RATE_OFFSET, true) + v.getUint32(PACING_RATE_OFFSET + 4, true) * 4294967296, this.now());
    this.rate = rate;
    const limit = unsentLimitFor(rate);
    // Only changes that matter: every setsockopt here is a syscall on the data path.
    if (Math.abs(limit - this.limit) * 8 < this.limit) return;
    if (limitUnsent(this.libc, this.fd, limit) === 0) this.limit = limit;
  }
}
