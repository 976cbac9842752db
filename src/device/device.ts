/**
 * The local side of a link: a device that yields and takes whole packets
 * (a TUN interface in the daemon, an in-memory queue in tests).
 */

/** A packet device, used without blocking. */
export interface Device {
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
}

/** A device failure that ends the link. */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceError";
  }
}
