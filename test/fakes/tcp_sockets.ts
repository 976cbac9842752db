/**
 * Real TCP sockets for tests without root: a connected pair on loopback, and
 * a libc that records (or refuses) what one socket option is set to, e.g.
 * the receive low-water marks (SO_RCVLOWAT).
 */
import assert from "node:assert/strict";
import { SO_RCVLOWAT, SOL_SOCKET, type Libc } from "../../ffi/libc.ts";
import { acceptTcp, connectTcp, listenTcp, localEndpoint } from "../../src/transport/socket.ts";

/** A non-blocking TCP connection on 127.0.0.1: `client` and the `server` end it was accepted as. `close()` closes both. */
export function loopbackTcpPair(libc: Libc): { client: number; server: number; close(): void } {
  const listener = listenTcp(libc, { family: 4, address: "127.0.0.1", port: 0 });
  const cancel = new Int32Array(2);
  try {
    assert.equal(libc.pipe2(cancel, 0), 0);
    const client = connectTcp(libc, localEndpoint(libc, listener), 5000, cancel[0]!);
    let accepted: { fd: number } | null = null;
    for (let i = 0; i < 1000 && accepted === null; i++) accepted = acceptTcp(libc, listener);
    if (accepted === null) libc.close(client);
    assert.ok(accepted, "the loopback connection was accepted");
    const server = accepted.fd;
    return {
      client,
      server,
      close: () => {
        libc.close(client);
        libc.close(server);
      },
    };
  } finally {
    for (const fd of [listener, cancel[0]!, cancel[1]!]) if (fd > 0) libc.close(fd);
  }
}

/**
 * `libc` with a setsockopt that records every value set for the option
 * `level`/`name` into `values` (as `decode` reads it); for that option it
 * answers `result` when one is given, else it passes the call on, as it
 * does for every other option.
 */
export function recordingSocketOption<T>(
  libc: Libc,
  level: number,
  name: number,
  decode: (value: Uint8Array) => T,
  result?: number,
): { libc: Libc; values: T[] } {
  const values: T[] = [];
  const recording: Libc = Object.create(libc);
  recording.setsockopt = (fd, lv, nm, value, len) => {
    if (lv !== level || nm !== name) return libc.setsockopt(fd, lv, nm, value, len);
    values.push(decode(value.subarray(0, len)));
    return result ?? libc.setsockopt(fd, lv, nm, value, len);
  };
  return { libc: recording, values };
}

/** {@link recordingSocketOption} for an int option: the values set, as numbers. */
export function recordingIntOption(libc: Libc, level: number, name: number, result?: number): { libc: Libc; values: number[] } {
  const int32 = (v: Uint8Array) => new DataView(v.buffer, v.byteOffset).getInt32(0, true);
  return recordingSocketOption(libc, level, name, int32, result);
}

/** {@link recordingIntOption} for SO_RCVLOWAT: the low-water marks set, in `marks`. */
export function recordingLowWater(libc: Libc, result?: number): { libc: Libc; marks: number[] } {
  const { libc: recording, values } = recordingIntOption(libc, SOL_SOCKET, SO_RCVLOWAT, result);
  return { libc: recording, marks: values };
}
