/**
 * The daemon's poll() driver with the real libc (no root needed): a socket
 * pair stands for the network, a pipe for a device whose kernel answers a
 * packet inside the write that delivered it (as a TUN does for a ping). The
 * answer must leave at once, without waiting for another poll(); a link
 * without timers must not read the clock; a wake-up byte stops the loop; a
 * wake-up of the socket alone takes the link's idle path unless it is off; a
 * TCP socket held under bulk load still delivers the tail of the burst.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import {
  AF_UNIX,
  MSG_DONTWAIT,
  O_CLOEXEC,
  O_NONBLOCK,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  type Libc,
} from "../../ffi/libc.ts";
import type { BurstDevice, Device } from "../device/device.ts";
import type { PacketSink } from "../device/gso_split.ts";
import { memoryLogger } from "../log.ts";
import { LONE_HEADROOM } from "../protocol/frame.ts";
import { dataFrame } from "../../test/fakes/frames.ts";
import { HOLD_AFTER_MS, HOLD_LOW_WATER, TcpFrameTransport } from "../transport/tcp.ts";
import { HELD_READ_MS } from "../transport/transport.ts";
import { loopbackTcpPair, recordingLowWater } from "../../test/fakes/tcp_sockets.ts";
import { MemoryDevice } from "../../test/fakes/memory_device.ts";
import { concat } from "../../test/fakes/packets.ts";
import { UdpFrameTransport } from "../transport/udp.ts";
import { Link, type LinkOptions } from "./link.ts";
import { Pipeline } from "./pipeline.ts";
import { runPollLoop } from "./poll_loop.ts";

const libc = await loadLibc();

/** A device on a pipe: every packet written to it is answered at once with `answer` (readable from `fd`). */
class AnsweringDevice implements Device {
  readonly name = "answering";
  readonly written: Uint8Array[] = [];
  constructor(readonly fd: number, private readonly answerFd: number, private readonly answer: Uint8Array) {}
  readPacket(buf: Uint8Array, offset: number, capacity: number): number {
    const r = libc.read(this.fd, buf, offset, capacity);
    return r > 0 ? r : 0;
  }
  writePacket(buf: Uint8Array, offset: number, length: number): number {
    this.written.push(buf.slice(offset, offset + length));
    assert.equal(libc.write(this.answerFd, this.answer, 0, this.answer.length), this.answer.length);
    return length;
  }
  close(): void {}
}

function pair(make: (fds: Int32Array) => number): [number, number] {
  const fds = new Int32Array(2);
  assert.equal(make(fds), 0);
  return [fds[0]!, fds[1]!];
}

/** The bytes waiting on `fd` right now (without blocking). */
function pending(fd: number): Uint8Array {
  const buf = new Uint8Array(4096);
  const r = libc.recv(fd, buf, 0, buf.length, MSG_DONTWAIT);
  return r > 0 ? buf.slice(0, r) : new Uint8Array(0);
}

/**
 * Runs a link over a socket pair and an answering device: `peerFrames` wait on
 * the socket when the loop starts, and `onPoll(n, peerFd, stop)` runs before
 * the n-th poll(); it must call `stop` (the wake-up byte) by the poll that
 * would otherwise wait forever.
 */
function run(options: Partial<LinkOptions>, peerFrames: Uint8Array, onPoll: (n: number, peer: number, stop: () => void) => void) {
  const [sock, peer] = pair((fds) => libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
  const [devRead, devWrite] = pair((fds) => libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC));
  const [wakeRead, wakeWrite] = pair((fds) => libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC));
  const answer = Uint8Array.from({ length: 84 }, (_, i) => (i * 5 + 1) & 0xff);
  const device = new AnsweringDevice(devRead, devWrite, answer);
  let polls = 0;
  const counting: Libc = Object.create(libc);
  counting.poll = (fds, nfds, timeoutMs) => {
    onPoll(++polls, peer, () => libc.write(wakeWrite, new Uint8Array([1]), 0, 1));
    return libc.poll(fds, nfds, timeoutMs);
  };
  let clockReads = 0;
  const now = () => {
    clockReads++;
    return performance.now();
  };
  try {
    assert.equal(libc.send(peer, peerFrames, 0, peerFrames.length, 0), peerFrames.length);
    const transport = new TcpFrameTransport(counting, sock);
    const link = new Link(device, transport, new Pipeline([]), { keepalive: null, initialEcho: false, ...options }, memoryLogger().log);
    const end = runPollLoop(counting, link, wakeRead, { now });
    return { end, device, answer, polls, clockReads };
  } finally {
    for (const fd of [sock, peer, devRead, devWrite, wakeRead, wakeWrite]) libc.close(fd);
  }
}

describe("runPollLoop", () => {
  it("sends what the device answers inside a write without another poll()", () => {
    const packet = Uint8Array.from({ length: 84 }, (_, i) => i & 0xff);
    let sentBeforeSecondPoll: Uint8Array = new Uint8Array(0);
    const r = run({}, dataFrame(packet), (n, peer, stop) => {
      if (n === 2) {
        sentBeforeSecondPoll = pending(peer);
        stop();
      }
    });
    assert.deepEqual(r.end, { kind: "stopped", why: "shutdown requested" });
    assert.deepEqual(r.device.written, [packet], "the peer's packet reached the device");
    assert.deepEqual(sentBeforeSecondPoll, dataFrame(r.answer), "the answer was on the wire before the second poll()");
  });

  it("does not read the clock per wake-up when the link has no timer", () => {
    const packets = Array.from({ length: 5 }, (_, k) => dataFrame(Uint8Array.from({ length: 60 }, (_, i) => (i + k) & 0xff)));
    const all = new Uint8Array(packets.reduce((n, p) => n + p.length, 0));
    packets.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    const r = run({}, all, (n, _peer, stop) => {
      if (n === 2) stop();
    });
    assert.equal(r.device.written.length, 5);
    assert.equal(r.polls, 2);
    assert.equal(r.clockReads, 1, "only once, at the start");
  });

  it("reads the clock once per wake-up when keepalive is on", () => {
    const r = run({ keepalive: { intervalSec: 30, maxFail: 4 } }, dataFrame(new Uint8Array(60)), (n, _peer, stop) => {
      if (n === 2) stop();
    });
    assert.equal(r.polls, 2);
    assert.equal(r.clockReads, 2, "at the start, then after the wake-up that carried the frame");
  });
});

/**
 * A burst device with the idle path on a pipe: readLone takes what is in the
 * pipe as one packet; writeLone records the packet and has the "kernel"
 * answer at once (writes `answer` into the pipe), as a TUN does for a ping.
 */
class LonePipeDevice implements BurstDevice {
  readonly burst = true;
  readonly name = "lone-pipe";
  readonly loneBuffer = new Uint8Array(LONE_HEADROOM + 4096);
  readonly written: Uint8Array[] = [];
  loneReads = 0;
  loneWrites = 0;
  constructor(readonly fd: number, private readonly answerFd: number, private readonly answer: Uint8Array) {}
  readLone(): number {
    const r = libc.read(this.fd, this.loneBuffer, LONE_HEADROOM, 4096);
    if (r <= 0) return 0;
    this.loneReads++;
    return r;
  }
  readBurst(emit: PacketSink): boolean {
    const buf = new Uint8Array(4096);
    const r = libc.read(this.fd, buf, 0, buf.length);
    if (r <= 0) return false;
    emit(buf, 0, r);
    return true;
  }
  writeLone(buf: Uint8Array, offset: number, length: number): number {
    this.loneWrites++;
    return this.writePacket(buf, offset, length);
  }
  writePacket(buf: Uint8Array, offset: number, length: number): number {
    this.written.push(buf.slice(offset, offset + length));
    assert.equal(libc.write(this.answerFd, this.answer, 0, this.answer.length), this.answer.length);
    return length;
  }
  endWrites(): number {
    return 0;
  }
  limitPacketLength(): void {}
  close(): void {}
}

describe("runPollLoop: the idle path", () => {
  for (const lonePath of [true, false]) {
    it(`a wake-up of the socket alone ${lonePath ? "takes" : "with lonePath off does not take"} the idle path, and the answer leaves before the second poll()`, () => {
      const [sock, peer] = pair((fds) => libc.socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
      const [devRead, devWrite] = pair((fds) => libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC));
      const [wakeRead, wakeWrite] = pair((fds) => libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC));
      const answer = Uint8Array.from({ length: 84 }, (_, i) => (i * 3 + 2) & 0xff);
      const packet = Uint8Array.from({ length: 84 }, (_, i) => i & 0xff);
      const device = new LonePipeDevice(devRead, devWrite, answer);
      let sentBeforeSecondPoll: Uint8Array = new Uint8Array(0);
      const counting: Libc = Object.create(libc);
      let polls = 0;
      counting.poll = (fds, nfds, timeoutMs) => {
        if (++polls === 2) {
          sentBeforeSecondPoll = pending(peer);
          libc.write(wakeWrite, new Uint8Array([1]), 0, 1);
        }
        return libc.poll(fds, nfds, timeoutMs);
      };
      try {
        const f = dataFrame(packet);
        assert.equal(libc.send(peer, f, 0, f.length, 0), f.length);
        const transport = new UdpFrameTransport(counting, sock);
        const link = new Link(device, transport, new Pipeline([]), { keepalive: null, initialEcho: false }, memoryLogger().log);
        assert.ok(link.canSendLone && link.canReceiveLone);
        const end = runPollLoop(counting, link, wakeRead, { lonePath });
        assert.deepEqual(end, { kind: "stopped", why: "shutdown requested" });
        assert.deepEqual(device.written, [packet], "the peer's packet reached the device");
        assert.deepEqual(sentBeforeSecondPoll, dataFrame(answer), "the answer was on the wire before the second poll()");
        assert.equal(device.loneWrites, lonePath ? 1 : 0);
        assert.equal(device.loneReads, lonePath ? 1 : 0);
      } finally {
        for (const fd of [sock, peer, devRead, devWrite, wakeRead, wakeWrite]) libc.close(fd);
      }
    });
  }
});

describe("runPollLoop: a held TCP socket (bulk load)", () => {
  it("reads the bytes below the low-water mark HELD_READ_MS after the last read, without a wake-up, and lets the hold go", () => {
    // A loopback TCP connection, as in a tcp session. The peer sends frames in
    // bulk, each burst above the low-water mark, until the transport holds;
    // then a tail far below the mark. The loop and the transport share a clock
    // the test moves: while it stands still the tail must wait (the kernel keeps
    // quiet), once HELD_READ_MS have passed the loop must fetch it.
    const { client: peer, server: sock } = loopbackTcpPair(libc);
    const [wakeRead, wakeWrite] = pair((fds) => libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC));
    const body = Uint8Array.from({ length: 1400 }, (_, i) => i & 0xff);
    const frame = dataFrame(body);
    const burst = concat(Array.from({ length: 100 }, () => frame)); // ~137 KiB, above the mark
    const tail = concat(Array.from({ length: 10 }, () => frame)); // ~14 KiB, far below it
    assert.ok(burst.length > HOLD_LOW_WATER && tail.length < HOLD_LOW_WATER / 4);
    const { libc: counting, marks } = recordingLowWater(libc);
    const clock = { t: 0 };
    const device = new MemoryDevice();
    const transport = new TcpFrameTransport(counting, sock, { now: () => clock.t });
    let sending: Uint8Array | null = null; // what is being sent, from `at`
    let at = 0;
    let framesSent = 0;
    let phase: "bulk" | "tail" | "done" = "bulk";
    let pollsWithTail = 0;
    let waitingWhileStill = -1; // frames not yet on the device after the tail waited with the clock still
    const stop = () => libc.write(wakeWrite, new Uint8Array([1]), 0, 1);
    const sendSome = () => {
      const r = libc.send(peer, sending!, at, sending!.length - at, MSG_DONTWAIT);
      if (r > 0) at += r;
      if (at === sending!.length) {
        framesSent += sending!.length / frame.length;
        sending = null;
        at = 0;
      }
    };
    counting.poll = (fds, nfds, timeoutMs) => {
      if (phase === "bulk") {
        if (clock.t > 50 * HOLD_AFTER_MS) {
          phase = "done"; // never held: give up, the assertions say why
          stop();
        } else if (sending) sendSome();
        else if (clock.t < 3 * HOLD_AFTER_MS || !transport.readsHeld || device.written.length !== framesSent) {
          clock.t += 0.5;
          sending = burst;
          sendSome();
        } else {
          phase = "tail"; // held, and every burst is on the device
          sending = tail;
          sendSome();
        }
      } else if (phase === "tail") {
        if (sending) sendSome();
        else if (++pollsWithTail === 4) {
          waitingWhileStill = framesSent - device.written.length;
          clock.t += HELD_READ_MS;
        } else if (pollsWithTail > 4 && device.written.length === framesSent && !transport.readsHeld) {
          phase = "done";
          stop();
        } else if (pollsWithTail > 2000) {
          stop(); // give up: the assertions say why
        }
      }
      return libc.poll(fds, nfds, timeoutMs);
    };
    try {
      const link = new Link(device, transport, new Pipeline([]), { keepalive: null, initialEcho: false }, memoryLogger().log);
      const end = runPollLoop(counting, link, wakeRead, { now: () => clock.t });
      assert.deepEqual(end, { kind: "stopped", why: "shutdown requested" });
      assert.equal(marks[0], HOLD_LOW_WATER, "the bulk held reads");
      assert.equal(waitingWhileStill, 10, "with the clock standing still the tail waited below the mark");
      assert.equal(phase, "done", "then the loop fetched it and let the hold go");
      assert.equal(device.written.length, framesSent);
      assert.ok(device.written.every((p) => p.length === body.length && p[1] === 1 && p[1399] === (1399 & 0xff)));
      assert.equal(marks.at(-1), 1);
    } finally {
      transport.close(); // and with it `sock`
      for (const fd of [peer, wakeRead, wakeWrite]) libc.close(fd);
    }
  });
});
