/**
 * An in-memory {@link SessionIo}: lets a client session and a server session
 * (the real protocol logic of both daemons) meet in one test process, with no
 * root, sockets or TUN devices. The control connection is a memory stream
 * pair, devices are {@link MemoryDevice}s, the data channel a
 * {@link memoryTransportPair} (UDP ones after a real port exchange).
 */
import type { SessionConfig } from "../../src/config/config.ts";
import type { Device } from "../../src/device/device.ts";
import type { Link, LinkEnd } from "../../src/link/link.ts";
import type { LinkInfo, SessionIo } from "../../src/daemon/session.ts";
import type { SessionFlags } from "../../src/protocol/flags.ts";
import type { Endpoint } from "../../src/transport/address.ts";
import type { FrameTransport } from "../../src/transport/transport.ts";
import { MemoryDevice } from "./memory_device.ts";
import { memoryStreamPair, type MemoryStream } from "./memory_stream.ts";
import { memoryTransportPair, type MemoryTransport } from "./memory_transport.ts";

/** What one side's io did, for assertions. */
export interface IoRecord {
  devicesOpened: MemoryDevice[];
  up: LinkInfo[];
  down: LinkInfo[];
  /** The transport the link ran on. */
  transport: MemoryTransport | null;
  /** Ms of simulated time the link ran. */
  ranMs: number;
  /** Device type each openDevice call asked for. */
  deviceTypes: string[];
  /** Whether each openDevice call asked for a shaped session's device (one packet per read). */
  deviceShaped: boolean[];
  /** Lines appended to the stat file. */
  stat: string[];
  /** awaitPeer (NAT hack) of the UDP connect, if any. */
  awaitPeer: boolean | null;
  /** What tcpTransport() was asked for (undefined: not called; null: the system's default). */
  congestion?: string | null;
}

/** One side of an in-memory connection. */
export class MemoryIo implements SessionIo {
  readonly record: IoRecord = { devicesOpened: [], up: [], down: [], transport: null, ranMs: 0, deviceTypes: [], deviceShaped: [], stat: [], awaitPeer: null };
  /** The link, once running (tests inject packets into its device). */
  link: Link | null = null;
  /** Called after every step of the link, with the simulated time; may stop it. */
  onStep: ((now: number, link: Link) => void) | null = null;
  private stopRequested = false;

  constructor(
    readonly control: MemoryStream,
    readonly local: Endpoint,
    readonly remote: Endpoint,
    private readonly data: { tcp: MemoryTransport; udp: MemoryTransport },
  ) {}

  openDevice(_session: SessionConfig, flags: SessionFlags, shaped: boolean): Device {
    this.record.deviceTypes.push(flags.type);
    this.record.deviceShaped.push(shaped);
    const device = new MemoryDevice(`tun${this.record.devicesOpened.length}`);
    this.record.devicesOpened.push(device);
    return device;
  }

  releaseDevice(device: Device): void {
    device.close();
  }

  tcpTransport(congestion: string | null): FrameTransport {
    this.record.congestion = congestion;
    this.record.transport = this.data.tcp;
    return this.data.tcp;
  }

  bindUdp() {
    // The UDP "socket" uses the TCP port number, as vtund binds it.
    return {
      local: this.local,
      connect: (_peer: Endpoint, options?: { awaitPeer: boolean }) => {
        this.record.awaitPeer = options?.awaitPeer ?? false;
        this.record.transport = this.data.udp;
        return this.data.udp;
      },
    };
  }

  /** Steps the link on a simulated clock (10 ms per step) until it ends. */
  async runLink(link: Link): Promise<LinkEnd> {
    this.link = link;
    let now = 0;
    link.start(now);
    while (link.end === null) {
      if (this.stopRequested) link.stop("stop requested");
      link.pumpTransport();
      link.pumpDevice();
      link.tick(now);
      this.onStep?.(now, link);
      now += 10;
      this.record.ranMs = now;
      await new Promise((r) => setTimeout(r, 0));
    }
    return link.end;
  }

  linkUp(info: LinkInfo): void {
    this.record.up.push(info);
  }

  async linkDown(info: LinkInfo): Promise<void> {
    this.record.down.push(info);
  }

  appendStat(_session: string, line: string): void {
    this.record.stat.push(line);
  }

  /** Ends the link at its next step (like SIGTERM). */
  stop(): void {
    this.stopRequested = true;
  }
}

/** A client io and a server io connected to each other. */
export function memoryIoPair(): { client: MemoryIo; server: MemoryIo } {
  const [cs, ss] = memoryStreamPair();
  const [ctcp, stcp] = memoryTransportPair("tcp");
  const [cudp, sudp] = memoryTransportPair("udp");
  const clientEp: Endpoint = { family: 4, address: "10.201.0.2", port: 40000 };
  const serverEp: Endpoint = { family: 4, address: "10.201.0.1", port: 5000 };
  return {
    client: new MemoryIo(cs, clientEp, serverEp, { tcp: ctcp, udp: cudp }),
    server: new MemoryIo(ss, serverEp, clientEp, { tcp: stcp, udp: sudp }),
  };
}
