/** Waiting for one fd with poll(), interruptible through a wake-up fd. */
import { Errno } from "../../ffi/errno.ts";
import { check, POLLERR, POLLHUP, POLLIN, type Libc } from "../../ffi/libc.ts";

/** Thrown when a wait was ended through the wake-up fd (shutdown). */
export class Cancelled extends Error {
  constructor(what: string) {
    super(`${what} cancelled`);
    this.name = "Cancelled";
  }
}

/** What {@link waitFor} saw. */
export type WaitResult = "ready" | "timeout" | "cancelled";

const pollfds = new Uint8Array(16);
const pollView = new DataView(pollfds.buffer);

/**
 * Blocks until `fd` has one of `events` (or an error/hangup), `timeoutMs`
 * passes, or `wakeFd` (if ≥ 0) becomes readable.
 */
export function waitFor(libc: Libc, fd: number, events: number, timeoutMs: number, wakeFd: number): WaitResult {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    pollView.setInt32(0, fd, true);
    pollView.setInt16(4, events, true);
    pollView.setInt16(6, 0, true);
    pollView.setInt32(8, wakeFd, true); // poll() ignores negative fds
    pollView.setInt16(12, POLLIN, true);
    pollView.setInt16(14, 0, true);
    const left = Math.max(0, deadline - Date.now());
    const n = libc.poll(pollfds, 2, left);
    if (n === -Errno.EINTR) continue;
    check(n, "poll()");
    if (wakeFd >= 0 && pollView.getInt16(14, true) !== 0) return "cancelled";
    if (pollView.getInt16(6, true) & (events | POLLERR | POLLHUP)) return "ready";
    if (n === 0 && Date.now() >= deadline) return "timeout";
  }
}
