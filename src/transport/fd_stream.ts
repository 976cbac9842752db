/**
 * A {@link ByteStream} over a connected non-blocking socket, for the handshake
 * and the UDP port exchange. It blocks its thread in poll() (it runs in a
 * session worker) and returns settled promises; the wake-up fd cancels a wait.
 *
 * It never reads past what was asked for, so the first data frames that follow
 * the handshake stay in the socket for the link's transport.
 */
import { Errno } from "../../ffi/errno.ts";
import { MSG_NOSIGNAL, POLLIN, POLLOUT, type Libc } from "../../ffi/libc.ts";
import { errnoName } from "../../ffi/errno.ts";
import { StreamError, type ByteStream } from "../protocol/stream.ts";
import { waitFor } from "./wait.ts";

/** A socket as a {@link ByteStream}. */
export class FdStream implements ByteStream {
  // Bytes of a read that timed out half-way; they belong to the next read.
  private partial = new Uint8Array(0);

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
    private readonly wakeFd: number,
  ) {}

  readExact(n: number, timeoutMs: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    out.set(this.partial.subarray(0, n));
    let have = Math.min(this.partial.length, n);
    this.partial = this.partial.subarray(have);
    const deadline = Date.now() + timeoutMs;
    while (have < n) {
      const r = this.libc.recv(this.fd, out, have, n - have, 0);
      if (r > 0) {
        have += r;
        continue;
      }
      if (r === 0) return Promise.reject(new StreamError("eof", "connection closed by peer"));
      if (r !== -Errno.EAGAIN && r !== -Errno.EINTR) {
        return Promise.reject(new StreamError("error", `recv failed: ${errnoName(r)}`));
      }
      const waited = waitFor(this.libc, this.fd, POLLIN, Math.max(0, deadline - Date.now()), this.wakeFd);
      if (waited === "cancelled") return Promise.reject(new StreamError("cancelled", "cancelled"));
      if (waited === "timeout") {
        this.partial = out.slice(0, have);
        return Promise.reject(new StreamError("timeout", `timed out after ${timeoutMs} ms`));
      }
    }
    return Promise.resolve(out);
  }

  write(data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const r = this.libc.send(this.fd, data, done, data.length - done, MSG_NOSIGNAL);
      if (r >= 0) {
        done += r;
        continue;
      }
      if (r !== -Errno.EAGAIN && r !== -Errno.EINTR) {
        return Promise.reject(new StreamError("error", `send failed: ${errnoName(r)}`));
      }
      if (waitFor(this.libc, this.fd, POLLOUT, 30_000, this.wakeFd) !== "ready") {
        return Promise.reject(new StreamError("timeout", "send stalled"));
      }
    }
    return Promise.resolve();
  }
}
