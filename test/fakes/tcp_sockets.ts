/**
 * Real TCP sockets for tests without root: a connected pair on loopback, and
 * a libc that records the receive low-water marks (SO_RCVLOWAT) set on them.
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
 * `libc` with a setsockopt that records every SO_RCVLOWAT value into `marks`;
 * it answers `result` when one is given, else passes the call on.
 */
export function recordingLowWater(libc: Libc, result?: number): { libc: Libc; marks: number[] } {
  const marks: number[] = [];
  const recording: Libc = Object.create(libc);
  recording.setsockopt = (fd, level, name, value, len) => {
    if (level === SOL_SOCKET && name === SO_RCVLOWAT) marks.push(new DataView(value.buffer, value.byteOffset).getInt32(0, true));
    return result ?? libc.setsockopt(fd, level, name, value, len);
  };
  return { libc: recording, marks };
}
