/**
 * A TUN interface with offloads, as a {@link BurstDevice}: the kernel hands
 * over TCP super-segments of up to 64 KiB in one read and takes merged runs
 * of segments in one write, so the TUN side costs one syscall per ~45
 * packets instead of one per packet. The packets between this device and the
 * link are ordinary MSS-sized IP packets, so the wire stays vtund's: one
 * frame per packet. Reads go through {@link GsoSplitter}, writes through
 * {@link GroCoalescer} (see those modules for the packet rules).
 */
import type { Libc } from "../../ffi/libc.ts";
import { errnoName } from "../../ffi/errno.ts";
import type { Logger } from "../log.ts";
import type { AnyDevice, BurstDevice } from "./device.ts";
import { GroCoalescer } from "./gro_coalesce.ts";
import { GsoSplitter, type PacketSink } from "./gso_split.ts";
import { openTun, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4, TUN_F_USO6, TunDevice } from "./tun.ts";
import { OFFLOAD_TX_QUEUE_LENGTH, setTxQueueLength } from "./tun_queue.ts";
import { VNET_HDR_LEN, writeZeroVnetHeader } from "./vnet_header.ts";
import { allocBytes } from "../bytes.ts";
import { LONE_HEADROOM } from "../protocol/frame.ts";

// A read holds the virtio header and an IP packet of up to 64 KiB; one byte
// more lets the splitter see a truncated (oversized) read as malformed.
const READ_SIZE = VNET_HDR_LEN + 65536;
// readLone leaves a packet right after its virtio header; writeLone puts one there.
if (LONE_HEADROOM !== VNET_HDR_LEN) throw new Error("offload_tun: LONE_HEADROOM must be the virtio header's size");

/** A TUN opened with `IFF_VNET_HDR` and TSO, read in bursts and written in merged runs. */
export class OffloadTun implements BurstDevice {
  readonly burst = true;
  /** Segmentation of what the kernel sends (counters for logs and tests). */
  readonly splitter = new GsoSplitter();
  /** Merging of what the peer sends (counters for logs and tests). */
  readonly coalescer: GroCoalescer;
  private readonly readBuf = allocBytes(READ_SIZE);
  private refusal = 0; // -errno of the last refused write since it was reset

  /** Wraps `tun`, which must have been opened with `offload` and have TSO accepted. */
  constructor(readonly tun: TunDevice) {
    this.coalescer = new GroCoalescer((buf, off, len) => {
      const r = this.tun.writePacket(buf, off, len);
      if (r < 0) this.refusal = r;
    });
  }

  get name(): string {
    return this.tun.name;
  }

  get fd(): number {
    return this.tun.fd;
  }

  readBurst(emit: PacketSink): boolean {
    const n = this.tun.readPacket(this.readBuf, 0, READ_SIZE);
    if (n === 0) return false;
    this.splitter.split(this.readBuf, 0, n, emit);
    return true;
  }

  readLone(emit: PacketSink): number {
    const n = this.tun.readPacket(this.readBuf, 0, READ_SIZE);
    if (n === 0) return 0;
    const whole = this.splitter.wholePacket(this.readBuf, 0, n);
    if (whole > 0) return whole;
    this.splitter.split(this.readBuf, 0, n, emit);
    return -1;
  }

  get loneBuffer(): Uint8Array {
    return this.readBuf;
  }

  writeLone(buf: Uint8Array, offset: number, length: number): number {
    this.refusal = 0;
    this.coalescer.flush(); // normally empty: every receive batch ends with endWrites()
    writeZeroVnetHeader(buf, offset - VNET_HDR_LEN);
    const r = this.tun.writePacket(buf, offset - VNET_HDR_LEN, VNET_HDR_LEN + length);
    if (r < 0) return r;
    return this.refusal < 0 ? this.refusal : length;
  }

  writePacket(buf: Uint8Array, offset: number, length: number): number {
    this.refusal = 0;
    this.coalescer.add(buf, offset, length);
    return this.refusal < 0 ? this.refusal : length;
  }

  endWrites(): number {
    this.refusal = 0;
    this.coalescer.flush();
    return this.refusal;
  }

  queueByTime(drainRate: () => number, onRefusal?: (message: string) => void): void {
    this.tun.queueByTime(drainRate, onRefusal);
  }

  limitPacketLength(bytes: number): void {
    this.splitter.maxPacket = bytes;
  }

  close(): void {
    this.tun.close();
  }
}

/** "csum tso4 tso6 ecn uso" — the TUN_F_* set, for logs. */
export function describeOffloads(flags: number): string {
  const names: Array<[number, string]> = [
    [TUN_F_CSUM, "csum"], [TUN_F_TSO4, "tso4"], [TUN_F_TSO6, "tso6"], [TUN_F_TSO_ECN, "ecn"], [TUN_F_USO4 | TUN_F_USO6, "uso"],
  ];
  return names.filter(([bit]) => (flags & bit) === bit).map(([, name]) => name).join(" ") || "none";
}

/**
 * Opens the layer-3 TUN of a `type tun` session: with offloads when the
 * kernel grants TSO, else, or when `noOffloads` gives a reason, plain (one
 * packet per read and write, as vtund). Says once which path is in use.
 */
export function openSessionTun(libc: Libc, name: string | undefined, log: Logger, noOffloads?: string): OffloadTun | TunDevice {
  if (noOffloads !== undefined) {
    const tun = openTun(libc, { mode: "tun", name });
    log.debug(`${tun.name}: TUN offloads disabled (${noOffloads}): one packet per read and write`);
    return tun;
  }
  let why: string;
  try {
    const tun = openTun(libc, { mode: "tun", name, offload: true });
    if (tun.offloads & (TUN_F_TSO4 | TUN_F_TSO6)) {
      log.debug(`${tun.name}: TUN offloads on (${describeOffloads(tun.offloads)}): up to 64 KiB per read and write`);
      shortenQueue(libc, tun.name, log);
      return new OffloadTun(tun);
    }
    // Without TSO a virtio header buys nothing: reopen the plain way.
    why = `the kernel granted ${describeOffloads(tun.offloads)}`;
    tun.close();
  } catch (e) {
    why = (e as Error).message;
  }
  const tun = openTun(libc, { mode: "tun", name });
  log.info(`${tun.name}: no TUN offloads (${why}): one packet per read and write`);
  return tun;
}

/** Sets OFFLOAD_TX_QUEUE_LENGTH on a TUN with TSO (best effort: the `up` commands may set another). */
function shortenQueue(libc: Libc, name: string, log: Logger): void {
  const r = setTxQueueLength(libc, name, OFFLOAD_TX_QUEUE_LENGTH);
  if (r < 0) log.info(`${name}: cannot set txqueuelen ${OFFLOAD_TX_QUEUE_LENGTH}: ${errnoName(r)}; packets may wait longer under load`);
}

/** The plain device under `device` when it is a TUN (for `persist keep`), or null. */
export function underlyingTun(device: AnyDevice): TunDevice | null {
  if (device instanceof OffloadTun) return device.tun;
  return device instanceof TunDevice ? device : null;
}
