/**
 * Linux TUN/TAP devices through /dev/net/tun, opened the way vtund opens them:
 * `IFF_TUN | IFF_NO_PI` for `type tun` (bare IP packets, no packet-information
 * header), `IFF_TAP | IFF_NO_PI` for `type ether`.
 */
import { Errno, errnoName } from "../../ffi/errno.ts";
import { check, O_CLOEXEC, O_NONBLOCK, O_RDWR, SysError, type Libc } from "../../ffi/libc.ts";
import { DeviceError, type Device } from "./device.ts";
import { encodeIfreq, ifreqName } from "./ifreq.ts";
import { OFFLOAD_TX_QUEUE_LENGTH, TUN_TX_QUEUE_LENGTH, TunQueueSizer } from "./tun_queue.ts";

/** ioctl TUNSETIFF (x86_64 and arm64; MIPS, PowerPC and SPARC use 0x800454ca). */
export const TUNSETIFF = 0x400454ca;
/** TUNSETIFF flags. */
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
/** TUNSETIFF flag: every packet is preceded by a virtio_net_hdr (src/device/vnet_header.ts). */
export const IFF_VNET_HDR = 0x4000;
/** ioctl TUNSETVNETHDRSZ (argument: pointer to int). */
export const TUNSETVNETHDRSZ = 0x400454d8;
/** ioctl TUNSETOFFLOAD (argument: the TUN_F_* flags themselves). */
export const TUNSETOFFLOAD = 0x400454d0;
/** TUNSETOFFLOAD flags: checksum offload (required by all the others), TSO for IPv4/IPv6, TSO with ECN (CWR), USO (IPv4 and IPv6 only together). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
/** Size of the virtio_net_hdr we ask for with TUNSETVNETHDRSZ. */
export const TUN_VNET_HDR_LEN = 10;

// Offload sets to try, richest first: older kernels refuse USO (before 6.2)
// with EINVAL, and the whole request fails if one flag is unknown.
const OFFLOAD_CHOICES = [
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
  TUN_F_CSUM,
];

const CLONE_DEVICE = "/dev/net/tun";

/** What kind of device to open. */
export interface TunRequest {
  /** "tun" (layer 3) or "tap" (layer 2, vtund's `type ether`). */
  mode: "tun" | "tap";
  /** Interface name; empty or undefined lets the kernel pick (`tun%d`/`tap%d`). */
  name?: string;
  /**
   * Open with `IFF_VNET_HDR` (a 10-byte virtio_net_hdr before every packet,
   * both ways) and enable as many offloads as the kernel accepts (see
   * {@link TunDevice.offloads}). Packets read then need splitting
   * (gso_split.ts) and packets written a header (gro_coalesce.ts).
   */
  offload?: boolean;
}

/** Opens a TUN/TAP interface; it exists until the returned device is closed. */
export function openTun(libc: Libc, request: TunRequest): TunDevice {
  const fd = check(
    libc.open(CLONE_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0),
    `tun: cannot open ${CLONE_DEVICE}`,
    (code) =>
      code === "ENOENT"
        ? "no TUN driver: modprobe tun, or create the node with mknod /dev/net/tun c 10 200"
        : code === "EACCES" || code === "EPERM"
        ? "are you root?"
        : undefined,
  );
  try {
    const flags = (request.mode === "tap" ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (request.offload ? IFF_VNET_HDR : 0);
    const ifreq = encodeIfreq(request.name ?? "", flags);
    const r = libc.ioctl(fd, TUNSETIFF, ifreq);
    if (r < 0) {
      const hint = r === -Errno.EPERM
        ? "are you root?"
        : r === -Errno.EBUSY
        ? `device "${request.name}" is in use`
        : r === -Errno.EINVAL
        ? `"${request.name}" exists and is not a ${request.mode} device, or the name is invalid`
        : undefined;
      throw new SysError("tun: TUNSETIFF failed", r, hint);
    }
    if (!request.offload) return new TunDevice(libc, fd, ifreqName(ifreq));
    const size = new Uint8Array(4);
    new DataView(size.buffer).setInt32(0, TUN_VNET_HDR_LEN, true);
    check(libc.ioctl(fd, TUNSETVNETHDRSZ, size), "tun: TUNSETVNETHDRSZ failed");
    let offloads = 0;
    for (const choice of OFFLOAD_CHOICES) {
      if (libc.ioctlValue(fd, TUNSETOFFLOAD, choice) >= 0) {
        offloads = choice;
        break;
      }
    }
    return new TunDevice(libc, fd, ifreqName(ifreq), true, offloads);
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** An open TUN/TAP interface (non-blocking fd). */
export class TunDevice implements Device {
  private closed = false;
  /** Sizes the queue in time once {@link queueByTime} was called. */
  queueSizer: TunQueueSizer | null = null;

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
    readonly name: string,
    /** Every packet read or written starts with a 10-byte virtio_net_hdr (opened with `offload`). */
    readonly vnetHeader = false,
    /** The TUN_F_* offloads the kernel accepted (0 without `offload`). */
    readonly offloads = 0,
  ) {}

  readPacket(buf: Uint8Array, offset: number, capacity: number): number {
    const r = this.libc.read(this.fd, buf, offset, capacity);
    if (r > 0) {
      if (this.queueSizer !== null) this.queueSizer.afterRead(r);
      return r;
    }
    if (r === 0) return 0;
    if (r === -Errno.EAGAIN) {
      if (this.queueSizer !== null) this.queueSizer.afterEmptyRead();
      return 0;
    }
    if (r === -Errno.EINTR) return 0;
    throw new DeviceError(`tun: read from ${this.name} failed: ${errnoName(r)}`);
  }

  writePacket(buf: Uint8Array, offset: number, length: number): number {
    const r = this.libc.write(this.fd, buf, offset, length);
    if (r >= 0) return r;
    // Per-packet refusals: the interface is not up yet (EIO — e.g. the peer's
    // IPv6 autoconf packets beat our `up` commands), a malformed packet (EINVAL),
    // or a full queue. Drop the packet, keep the link.
    if (r === -Errno.EIO || r === -Errno.EINVAL || r === -Errno.EAGAIN || r === -Errno.ENOBUFS || r === -Errno.ENOMEM || r === -Errno.EINTR) {
      return r;
    }
    throw new DeviceError(`tun: write to ${this.name} failed: ${errnoName(r)}`);
  }

  queueByTime(drainRate: () => number, onRefusal?: (message: string) => void): void {
    const usual = this.vnetHeader ? OFFLOAD_TX_QUEUE_LENGTH : TUN_TX_QUEUE_LENGTH;
    this.queueSizer = new TunQueueSizer(this.libc, this.name, usual, drainRate, onRefusal);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
