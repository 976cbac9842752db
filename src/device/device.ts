/**
 * The local side of a link: a device that yields and takes whole packets
 * (a TUN interface in the daemon, an in-memory queue in tests).
 */

import type { PacketSink } from "./gso_split.ts";

/** A packet device, used without blocking. */
export interface Device {
  /** Absent: this device is read one packet at a time (see {@link BurstDevice}). */
  readonly burst?: undefined;
  /** Interface name (e.g. "tun0"), used for `%d` in up/down commands and in logs. */
  readonly name: string;
  /** The fd to poll() on; -1 for in-memory fakes. */
  readonly fd: number;
  /**
   * Reads one packet into `buf[offset, offset+capacity)`; returns its length, or
   * 0 when none is waiting. A packet longer than `capacity` comes back as
   * `capacity` bytes (truncated), so pass one byte more than you accept.
   * Throws when the device is gone.
   */
  readPacket(buf: Uint8Array, offset: number, capacity: number): number;
  /**
   * Writes one packet. Returns its length, or `-errno` when the kernel refused
   * this packet (it is dropped: e.g. EIO while the interface is still down,
   * EINVAL for a malformed packet). Throws when the device is gone.
   */
  writePacket(buf: Uint8Array, offset: number, length: number): number;
  /** Releases the device (a TUN interface disappears with its last fd). */
  close(): void;
  /**
   * Bytes accepted by `writePacket` but not yet written (stream devices,
   * whose program may be slow to read); absent or 0 for packet devices.
   */
  readonly backlog?: number;
  /** Writes out what `backlog` holds, as far as the fd takes it now. Throws when the device is gone. */
  flush?(): void;
  /**
   * Where the kernel queues packets for the daemon (a TUN): keeps that queue
   * to a few milliseconds of the rate packets leave: `drainRate()` bytes/s,
   * the rate the tunnel sends, or the daemon's own pace where that is lower
   * (see tun_queue.ts). `onRefusal` hears once if it cannot.
   */
  queueByTime?(drainRate: () => number, onRefusal?: (message: string) => void): void;
}

/**
 * A device whose one read yields a burst of packets and whose writes may be
 * held back to be merged: a TUN with offloads (offload_tun.ts), where a read
 * is a 64 KiB TCP super-segment to cut into packets and a write can carry a
 * whole run of received segments.
 */
export interface BurstDevice {
  readonly burst: true;
  /** See {@link Device.name}. */
  readonly name: string;
  /** See {@link Device.fd}. */
  readonly fd: number;
  /**
   * Reads once and hands every packet of what was read to `emit`, in order
   * (views into the device's buffer, valid during the call only). False when
   * nothing was waiting. Throws when the device is gone.
   */
  readBurst(emit: PacketSink): boolean;
  /**
   * Takes one packet for the device; it may be held back to be merged with
   * the next ones until {@link endWrites}. Returns `length`, or `-errno` when
   * the kernel refused a write this call made (of packets queued earlier).
   * Throws when the device is gone.
   */
  writePacket(buf: Uint8Array, offset: number, length: number): number;
  /** Writes everything held back (call after each batch of writes); 0, or `-errno` of a refused write. */
  endWrites(): number;
  /**
   * Keeps the TCP packets it reads at most `bytes` long (0: no limit), so
   * that each fits one unfragmented datagram of a UDP tunnel.
   */
  limitPacketLength(bytes: number): void;
  /** See {@link Device.queueByTime}. */
  queueByTime?(drainRate: () => number, onRefusal?: (message: string) => void): void;
  /** See {@link Device.close}. */
  close(): void;
  /**
   * The idle path (see Link.sendLonePacket), where a device offers it: reads
   * once; a read that is one packet to send as it is stays in
   * {@link loneBuffer} at `LONE_HEADROOM` and its length is returned, with the
   * bytes before it free for the caller to use. A burst goes to `emit` as
   * {@link readBurst} sends it, and -1 is returned; 0 when nothing was waiting.
   */
  readLone?(emit: PacketSink): number;
  /** Where {@link readLone} leaves a packet (valid until the next read). */
  readonly loneBuffer?: Uint8Array;
  /**
   * The idle path: writes one packet at once, after anything held back.
   * `buf[offset - LONE_HEADROOM, offset)` may be overwritten. Returns
   * `length` or `-errno` as {@link writePacket} does.
   */
  writeLone?(buf: Uint8Array, offset: number, length: number): number;
  /** Nothing is held back between batches (unlike a stream device, see {@link Device.backlog}). */
  readonly backlog?: undefined;
  readonly flush?: undefined;
}

/** Either kind of device; `burst` tells them apart. */
export type AnyDevice = Device | BurstDevice;

/** A device failure that ends the link. */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceError";
  }
}
