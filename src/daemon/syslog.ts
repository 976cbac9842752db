/**
 * Logging to the local syslog daemon through /dev/log (a Unix datagram
 * socket), for vtunts running in the background like vtund.
 */
import type { Libc } from "../../ffi/index.ts";
import { MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK } from "../../ffi/libc.ts";
import { Logger, stderrSink, type Level, type LogSink } from "../log.ts";

const AF_UNIX = 1;
const LOG_DAEMON = 3 << 3;
const SEVERITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };

/** A sink that sends each line to syslog (facility daemon); null if /dev/log is not there. */
export function syslogSink(libc: Libc, path = "/dev/log"): LogSink | null {
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return null;
  const addr = new Uint8Array(110);
  addr[0] = AF_UNIX; // sa_family, little-endian u16
  const pathBytes = new TextEncoder().encode(path);
  addr.set(pathBytes, 2);
  if (libc.connect(fd, addr, 2 + pathBytes.length + 1) < 0) {
    libc.close(fd);
    return null;
  }
  const encoder = new TextEncoder();
  return (level, line) => {
    const bytes = encoder.encode(`<${LOG_DAEMON | SEVERITY[level]}>${line}`);
    libc.send(fd, bytes, 0, bytes.length, MSG_NOSIGNAL);
  };
}

/** Where a daemon's log lines go. */
export type LogTarget = "stderr" | "syslog";

/** A logger for `target`: stderr with timestamps, or syslog (falling back to discarding if /dev/log is missing). */
export function makeLogger(libc: Libc, target: LogTarget, level: Level): Logger {
  if (target === "stderr") return new Logger(stderrSink, level);
  return new Logger(syslogSink(libc) ?? (() => {}), level, null, false);
}
