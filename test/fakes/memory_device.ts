/**
 * An in-memory {@link Device}: the test plays the kernel, injecting packets
 * the daemon will read and collecting the packets it writes.
 */
import type { Device } from "../../src/device/device.ts";
import { DeviceError } from "../../src/device/device.ts";

/** A fake TUN device. */
export class MemoryDevice implements Device {
  readonly fd = -1;
  /** Packets waiting to be read by the daemon. */
  readonly inbound: Uint8Array[] = [];
  /** Packets the daemon wrote, in order. */
  readonly written: Uint8Array[] = [];
  /** If set, decides per packet whether the "kernel" refuses it (return -errno) or takes it (0). */
  refuse: ((packet: Uint8Array) => number) | null = null;
  /** When true, the next read throws as if the interface had been deleted. */
  broken = false;
  closed = false;
  /** The rate function the link handed to {@link queueByTime}, if it did. */
  drainRate: (() => number) | null = null;

  constructor(readonly name = "tun0") {}

  queueByTime(drainRate: () => number): void {
    this.drainRate = drainRate;
  }

  /** Hands a packet to the daemon (as if the kernel routed it into the interface). */
  inject(packet: Uint8Array): void {
    this.inbound.push(packet.slice());
  }

  readPacket(buf: Uint8Array, offset: number, capacity: number): number {
    if (this.broken) throw new DeviceError(`tun: read from ${this.name} failed: EBADFD`);
    const packet = this.inbound.shift();
    if (packet === undefined) return 0;
    const n = Math.min(packet.length, capacity);
    buf.set(packet.subarray(0, n), offset);
    return n;
  }

  writePacket(buf: Uint8Array, offset: number, length: number): number {
    const packet = buf.slice(offset, offset + length);
    const refusal = this.refuse?.(packet) ?? 0;
    if (refusal < 0) return refusal;
    this.written.push(packet);
    return length;
  }

  close(): void {
    this.closed = true;
  }
}
