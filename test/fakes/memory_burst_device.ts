/**
 * An in-memory {@link BurstDevice}: the test queues bursts (lists of packets
 * one "read" yields) and sees what the link wrote, batch by batch, as an
 * offloading TUN would merge it.
 */
import type { BurstDevice } from "../../src/device/device.ts";
import type { PacketSink } from "../../src/device/gso_split.ts";
import { LONE_HEADROOM } from "../../src/protocol/frame.ts";

/** A fake offloading TUN. */
export class MemoryBurstDevice implements BurstDevice {
  readonly burst = true;
  readonly fd = -1;
  /** Bursts waiting to be read, each a list of packets. */
  readonly bursts: Uint8Array[][] = [];
  /** Packets written since the last endWrites. */
  private pending: Uint8Array[] = [];
  /** Each endWrites call's packets (one "merged write" per batch). */
  readonly batches: Uint8Array[][] = [];
  /** The last limitPacketLength value. */
  packetLimit = -1;
  /** If set, the result of the next endWrites (e.g. -EIO). */
  failNextEnd = 0;
  closed = false;
  /** Where readLone leaves a packet (the idle path). */
  readonly loneBuffer = new Uint8Array(LONE_HEADROOM + 65536);
  /** Reads that came back lone, and writes made by writeLone. */
  loneReads = 0;
  loneWrites = 0;

  constructor(readonly name = "tun0") {}

  /** A burst of one packet is a lone read; a longer one goes to `emit` as readBurst sends it. */
  readLone(emit: PacketSink): number {
    const burst = this.bursts[0];
    if (burst === undefined) return 0;
    if (burst.length !== 1) {
      this.readBurst(emit);
      return -1;
    }
    this.bursts.shift();
    this.loneReads++;
    this.loneBuffer.fill(0xee, 0, LONE_HEADROOM);
    this.loneBuffer.set(burst[0]!, LONE_HEADROOM);
    return burst[0]!.length;
  }

  /** Writes held back go first; the packet is a batch of its own. Its headroom is overwritten, as a TUN's virtio header would. */
  writeLone(buf: Uint8Array, offset: number, length: number): number {
    const r = this.endWrites();
    buf.fill(0xdd, offset - LONE_HEADROOM, offset);
    this.batches.push([buf.slice(offset, offset + length)]);
    this.loneWrites++;
    return r < 0 ? r : length;
  }

  readBurst(emit: PacketSink): boolean {
    const burst = this.bursts.shift();
    if (burst === undefined) return false;
    // One shared buffer with room in front of each packet, like the real splitter's.
    for (const p of burst) {
      const buf = new Uint8Array(16 + p.length);
      buf.set(p, 16);
      emit(buf, 16, p.length);
    }
    return true;
  }

  writePacket(buf: Uint8Array, offset: number, length: number): number {
    this.pending.push(buf.slice(offset, offset + length));
    return length;
  }

  endWrites(): number {
    if (this.pending.length > 0) this.batches.push(this.pending);
    this.pending = [];
    const r = this.failNextEnd;
    this.failNextEnd = 0;
    return r;
  }

  limitPacketLength(bytes: number): void {
    this.packetLimit = bytes;
  }

  close(): void {
    this.closed = true;
  }
}
