/**
 * TunQueueSizer: the TUN's queue length as milliseconds at the tunnel's rate,
 * with a libc whose interface ioctls act on a pretend interface (the real
 * ioctls on a real TUN are exercised by the e2e "tcp over a slow link").
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { Errno } from "../../ffi/errno.ts";
import type { Libc } from "../../ffi/libc.ts";
import { ifreqName } from "./ifreq.ts";
import {
  OFFLOAD_TX_QUEUE_LENGTH,
  READ_RATE_WINDOW_MS,
  SIOCGIFTXQLEN,
  SIOCSIFTXQLEN,
  TUN_QUEUE_MIN_PACKETS,
  TUN_QUEUE_UPDATE_BYTES,
  TUN_TX_QUEUE_LENGTH,
  TunQueueSizer,
  tunQueueLengthFor,
} from "./tun_queue.ts";

const libc = await loadLibc();

/** A libc whose SIOCGIFTXQLEN/SIOCSIFTXQLEN read and set `iface.length` for interface "tunq0" (or answer `refuse`). */
function pretendInterface(length: number, refuse?: number) {
  const iface = { length, sets: [] as number[], gets: 0 };
  const fake: Libc = Object.create(libc);
  fake.ioctl = (fd, request, arg) => {
    if (request !== SIOCGIFTXQLEN && request !== SIOCSIFTXQLEN) return libc.ioctl(fd, request, arg);
    assert.equal(ifreqName(arg), "tunq0");
    if (refuse !== undefined) return refuse;
    const view = new DataView(arg.buffer, arg.byteOffset);
    if (request === SIOCGIFTXQLEN) {
      iface.gets++;
      view.setInt32(16, iface.length, true);
    } else {
      iface.length = view.getInt32(16, true);
      iface.sets.push(iface.length);
    }
    return 0;
  };
  return { libc: fake, iface };
}

/** Reads of `size` bytes until one more MiB has been counted. */
function readMiB(sizer: TunQueueSizer, size: number): void {
  for (let n = 0; n < TUN_QUEUE_UPDATE_BYTES; n += size) sizer.afterRead(size);
}

describe("the TUN's queue in milliseconds", () => {
  it("is 10 ms at the rate in packets of the mean read, at least 24 KiB and 4 packets, at most the ceiling", () => {
    // 20 Mbit/s in 7.5 kB TSO segments: 25 kB is 4 segments.
    assert.equal(tunQueueLengthFor(2.5e6, 7500, 100), 4);
    // 5 Mbit/s in 1500-byte packets: the 24 KiB floor, 17 packets.
    assert.equal(tunQueueLengthFor(625_000, 1500, 500), 17);
    // 1 Gbit/s in 64 KiB segments: 1.25 MB, 20 segments.
    assert.equal(tunQueueLengthFor(1.25e8, 65536, 100), 20);
    // 10 Gbit/s: capped.
    assert.equal(tunQueueLengthFor(1.25e9, 65536, 100), 100);
    // Huge reads on a slow link: never below 4 packets.
    assert.equal(tunQueueLengthFor(625_000, 65536, 100), TUN_QUEUE_MIN_PACKETS);
    // A ceiling under the floor wins (an `up` command set a short queue).
    assert.equal(tunQueueLengthFor(625_000, 65536, 2), 2);
  });

  it("looks once per MiB read: the ceiling first, then sets the length when it changes by a quarter", () => {
    const { libc: fake, iface } = pretendInterface(OFFLOAD_TX_QUEUE_LENGTH);
    let rate = 2.5e6;
    let looks = 0;
    const sizer = new TunQueueSizer(fake, "tunq0", OFFLOAD_TX_QUEUE_LENGTH, () => (looks++, rate));
    sizer.afterRead(TUN_QUEUE_UPDATE_BYTES - 1);
    assert.equal(looks, 0, "nothing before a MiB");
    assert.equal(iface.gets + iface.sets.length, 0);
    sizer.afterRead(1);
    assert.equal(looks, 1);
    // Two reads of ~512 KiB: 25 kB is one of them, and never below 4 packets.
    assert.deepEqual(iface.sets, [TUN_QUEUE_MIN_PACKETS]);
    assert.equal(sizer.length, TUN_QUEUE_MIN_PACKETS);
    rate = 3e6; // 30 kB: still 4 packets of 7.5 kB
    readMiB(sizer, 7500);
    rate = 1.25e8; // 1 Gbit/s: 1.25 MB in 64 KiB reads, 20
    readMiB(sizer, 65536);
    rate = 1.45e8; // 16% more: 23, not worth a reallocation
    readMiB(sizer, 65536);
    rate = 1.25e10;
    readMiB(sizer, 65536);
    assert.deepEqual(iface.sets, [4, 20, OFFLOAD_TX_QUEUE_LENGTH]);
    assert.equal(iface.gets, 1, "the ceiling is read once");
  });

  it("does nothing while the rate is not known", () => {
    const { libc: fake, iface } = pretendInterface(OFFLOAD_TX_QUEUE_LENGTH);
    const sizer = new TunQueueSizer(fake, "tunq0", OFFLOAD_TX_QUEUE_LENGTH, () => 0);
    readMiB(sizer, 65536);
    readMiB(sizer, 65536);
    assert.equal(iface.gets + iface.sets.length, 0);
    assert.equal(sizer.length, 0);
  });

  it("keeps a longer queue an `up` command set as its ceiling, and the usual one if it finds less", () => {
    const longer = pretendInterface(1000);
    const sizer = new TunQueueSizer(longer.libc, "tunq0", TUN_TX_QUEUE_LENGTH, () => 1.25e9);
    readMiB(sizer, 1500);
    assert.deepEqual(longer.iface.sets, [], "1000 packets of 1500 bytes are under 10 ms of 10 Gbit/s");
    // persist keep: the interface still has the last session's short queue.
    const kept = pretendInterface(4);
    const again = new TunQueueSizer(kept.libc, "tunq0", OFFLOAD_TX_QUEUE_LENGTH, () => 1.25e9);
    readMiB(again, 65536);
    assert.deepEqual(kept.iface.sets, [OFFLOAD_TX_QUEUE_LENGTH]);
  });

  it("a daemon slower than its connection: the pace of the reads while the queue stayed full sizes it", () => {
    const { libc: fake, iface } = pretendInterface(OFFLOAD_TX_QUEUE_LENGTH);
    let now = 0;
    // The connection's pacing rate on a veth: far more than the daemon makes.
    const sizer = new TunQueueSizer(fake, "tunq0", OFFLOAD_TX_QUEUE_LENGTH, () => 3e10, undefined, () => now);
    /** 1 MiB in 64 KiB reads, `ms` apart; an empty read in between when `emptied`. */
    const window = (ms: number, emptied: boolean) => {
      for (let i = 0; i < 16; i++) {
        now += ms;
        if (emptied && i === 8) sizer.afterEmptyRead();
        sizer.afterRead(65536);
      }
    };
    window(1, false); // the first look measures nothing: no set
    window(14 / 16, false); // 1 MiB in 14 ms, 75 MB/s (zlib:1): 10 ms is 749 kB, 12 segments
    assert.deepEqual(iface.sets, [12]);
    window(5 / 16, true); // the queue ran empty: no pace measured, the last one still counts
    window(20 / 16, false); // a slower window: the faster one of the last second wins
    assert.deepEqual(iface.sets, [12]);
    now += READ_RATE_WINDOW_MS;
    window(5 / 16, true); // a second on without a full queue: the pacing rate alone again
    assert.deepEqual(iface.sets, [12, OFFLOAD_TX_QUEUE_LENGTH]);
  });

  it("a kernel that refuses: said once, never tried again", () => {
    const { libc: fake } = pretendInterface(OFFLOAD_TX_QUEUE_LENGTH, -Errno.EPERM);
    const messages: string[] = [];
    let looks = 0;
    const sizer = new TunQueueSizer(fake, "tunq0", OFFLOAD_TX_QUEUE_LENGTH, () => (looks++, 2.5e6), (m) => messages.push(m));
    readMiB(sizer, 65536);
    readMiB(sizer, 65536);
    assert.equal(sizer.length, -1);
    assert.equal(looks, 1);
    assert.deepEqual(messages, ["tunq0: cannot size txqueuelen to the link's rate (EPERM); it stays as it is"]);
  });
});
