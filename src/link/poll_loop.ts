/**
 * The daemon's driver for a {@link Link}: one poll() loop over the device, the
 * socket and a wake-up pipe, in the session's worker thread. It blocks in
 * poll() when idle (no busy waiting; the only timer is keepalive) and returns
 * when the link ends or the wake-up pipe is written (shutdown).
 *
 * The clock is read once per wake-up, and not at all when the link has no
 * timer and its reads are not held: on an idle tunnel each packet is a cold
 * wake-up, and every runtime call on that path adds to the round-trip time.
 * For the same reason a wake-up of the device alone or of the socket alone
 * takes the link's idle path (Link.sendLonePacket, Link.receiveLoneFrame)
 * unless `lonePath` is off.
 *
 * While the transport holds its reads (bulk load, FrameTransport.readsHeld)
 * poll() waits at most HELD_READ_MS; when that long has passed without the
 * socket being reported readable, the hold ends, and the next poll() reports
 * the bytes that waited below the mark.
 */
import { Errno } from "../../ffi/errno.ts";
import { check, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, type Libc } from "../../ffi/libc.ts";
import { HELD_READ_MS } from "../transport/transport.ts";
import type { Link, LinkEnd } from "./link.ts";

const WAKE = 0;
const DEVICE = 1;
const SOCKET = 2;

/** Byte written to the wake-up pipe to ask for a statistics reset (SIGUSR1); any other byte means "stop". */
export const WAKE_RESET_STATS = 2;

/** Options of {@link runPollLoop}. */
export interface PollLoopOptions {
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** Take the link's idle path where it has one (default true; VTUNTS_DISABLE=lone-path). */
  lonePath?: boolean;
}

/** Runs `link` until it ends; `wakeFd` readable means "stop" (or a stats reset). Returns why it ended. */
export function runPollLoop(libc: Libc, link: Link, wakeFd: number, options: PollLoopOptions = {}): LinkEnd {
  const now = options.now ?? (() => performance.now());
  const loneSend = (options.lonePath ?? true) && link.canSendLone;
  const loneReceive = (options.lonePath ?? true) && link.canReceiveLone;
  const fds = new Uint8Array(3 * 8);
  const fdv = new Int32Array(fds.buffer); // fd at [2*i]
  const ev = new Int16Array(fds.buffer); // events at [4*i+2], revents at [4*i+3]
  fdv[2 * WAKE] = wakeFd;
  fdv[2 * DEVICE] = link.device.fd;
  fdv[2 * SOCKET] = link.transport.fd;
  ev[4 * WAKE + 2] = POLLIN;

  const wakeBytes = new Uint8Array(16);
  let t = now();
  link.start(t);
  const clocked = link.needsClock;
  const transport = link.transport;
  let heldReadAt = -1; // while reads are held: when the socket was last read
  while (link.end === null) {
    // Read the device only while the socket keeps up; ask for POLLOUT while frames wait.
    // A stream device (pipe/tty) may hold bytes its program has not read yet: wait for room,
    // and stop taking frames from the network while it lags (backpressure).
    ev[4 * DEVICE + 2] = (link.wantsDevice ? POLLIN : 0) | ((link.device.backlog ?? 0) > 0 ? POLLOUT : 0);
    ev[4 * SOCKET + 2] = (link.wantsTransport ? POLLIN : 0) | (link.transport.backlog > 0 ? POLLOUT : 0);
    const held = transport.readsHeld === true;
    let timeout = link.msUntilTick(t);
    if (held) {
      if (heldReadAt < 0) heldReadAt = now();
      if (timeout < 0 || timeout > HELD_READ_MS) timeout = HELD_READ_MS;
    } else {
      heldReadAt = -1;
    }
    const n = libc.poll(fds, 3, timeout);
    if (n === -Errno.EINTR) {
      if (clocked) t = now();
      continue;
    }
    check(n, "link: poll()");
    const dev = ev[4 * DEVICE + 3]!;
    const sock = ev[4 * SOCKET + 3]!;
    if (held) {
      // Below the low-water mark poll() stays quiet: the flow slowed or ended. Once
      // released, the next poll() reports what waits.
      const at = now();
      if (sock & POLLIN) heldReadAt = at;
      else if (at - heldReadAt >= HELD_READ_MS) transport.releaseReads!();
    }
    if (n === 1 && dev === POLLIN && loneSend) {
      link.sendLonePacket();
    } else if (n === 1 && sock === POLLIN && loneReceive) {
      link.receiveLoneFrame();
    } else if (n > 0) {
      if (ev[4 * WAKE + 3]) {
        const r = libc.read(wakeFd, wakeBytes, 0, wakeBytes.length);
        if (r > 0 && wakeBytes.subarray(0, r).every((b) => b === WAKE_RESET_STATS)) {
          link.resetStats();
        } else {
          link.stop("shutdown requested");
          break;
        }
      }
      const deliveredBefore = link.stats.packetsIn;
      if (sock & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) link.pumpTransport();
      if (sock & POLLOUT && link.end === null) link.flushTransport();
      if (dev & POLLOUT && link.end === null) link.flushDevice();
      // The kernel often answers a packet inside the write that delivered it (a ping, a TCP
      // segment's ACK): read the device at once then, rather than after one more poll().
      const answered = link.stats.packetsIn !== deliveredBefore && link.wantsDevice;
      if ((dev & ~POLLOUT || answered) && link.end === null) link.pumpDevice();
    }
    if (clocked) t = now();
    link.tick(t);
  }
  return link.end!;
}
