/**
 * One vtun session from the first handshake record to the last frame, for
 * either side. This is the protocol logic of a session; everything that
 * touches the system comes through {@link SessionIo}, which the daemon's
 * worker implements with sockets and TUN devices (worker.ts) and tests
 * implement in memory (test/fakes), so two sessions can meet without root.
 *
 * Order of events, as in vtund: authenticate → open the device (only now) →
 * set up the data channel (TCP as is, or the UDP port exchange) → run `up`
 * commands alongside the link → link until it ends → `down` commands → close.
 */
import type { Command, SessionConfig } from "../config/config.ts";
import { DEFAULT_KEEPALIVE } from "../config/config.ts";
import type { AnyDevice } from "../device/device.ts";
import { Link, type Keepalive, type LinkEnd, type LinkStats } from "../link/link.ts";
import { Pipeline } from "../link/pipeline.ts";
import { Shaper } from "../link/shaper.ts";
import { buildStages, describeStages } from "../link/stages.ts";
import { LzoStage } from "../compress/stage.ts";
import { LEGACY_CIPHER_WARNING } from "../crypto/cipher_stage.ts";
import type { Logger } from "../log.ts";
import { formatFlags, type SessionFlags } from "../protocol/flags.ts";
import { clientHandshake, HandshakeError, serverHandshake } from "../protocol/handshake.ts";
import type { ByteStream } from "../protocol/stream.ts";
import { StreamError } from "../protocol/stream.ts";
import { formatEndpoint, type Endpoint } from "../transport/address.ts";
import type { FrameTransport } from "../transport/transport.ts";
import { exchangeUdpPorts } from "../transport/udp_ports.ts";

/** Addresses and device of a running link: what `%d %A %P %a %p` stand for in up/down commands. */
export interface LinkInfo {
  session: string;
  device: string;
  local: Endpoint;
  remote: Endpoint;
}

/** Everything a session needs from the outside world. */
export interface SessionIo {
  /** The TCP control connection: handshake, then (proto udp) the port exchange. */
  readonly control: ByteStream;
  /** Our end of the control connection. */
  readonly local: Endpoint;
  /** The peer's end of the control connection. */
  readonly remote: Endpoint;
  /**
   * Opens (or takes over a kept) device of the type in `flags` for an
   * authenticated session. `shaped`: the session's output is shaped
   * (`speed`), so the device must yield one packet per read (no TUN
   * offloads): the shaper can only hold back whole reads, and one 64 KiB
   * super-segment would overdraw its bucket by seconds at a low rate.
   */
  openDevice(session: SessionConfig, flags: SessionFlags, shaped: boolean): AnyDevice;
  /** Frees the device: closes it, or keeps it for the next session (`persist keep`). */
  releaseDevice(device: AnyDevice): void;
  /**
   * proto tcp: frames continue on the control connection, sent with
   * `congestion` control (`tcp_congestion`; null: the system's default).
   * Throws when the kernel refuses it.
   */
  tcpTransport(congestion: string | null): FrameTransport;
  /**
   * proto udp: a UDP socket bound beside the control connection; `connect`
   * closes TCP. With `awaitPeer` (NAT hack) the socket connects to wherever the
   * peer's first datagram comes from instead.
   */
  bindUdp(): { local: Endpoint; connect(peer: Endpoint, options?: { awaitPeer: boolean }): FrameTransport };
  /** Runs the link until it ends (or is stopped). */
  runLink(link: Link): Promise<LinkEnd>;
  /**
   * The link is up: run the `up` commands (in the background). For pipe and
   * tty devices the commands get the device's other end as stdin/stdout.
   */
  linkUp(info: LinkInfo, commands: readonly Command[], device: AnyDevice): void;
  /** The link is down: run the `down` commands; resolves when they finished. */
  linkDown(info: LinkInfo, commands: readonly Command[]): Promise<void>;
  /** `stat yes`: appends one line to the session's statistics file. */
  appendStat(session: string, line: string): void;
  /**
   * Called before the frame stages of `flags` are built: loads the C
   * libraries they run on where there are any (libcrypto for ciphers,
   * liblzo2 for LZO; see ffi/). Absent: nothing to load.
   */
  prepareStages?(flags: SessionFlags): Promise<void>;
}

/** How often `stat yes` writes a line (vtund: 5 minutes). */
export const STAT_INTERVAL_MS = 300_000;

/** How a session ended, for the log and the client's exit code. */
export type SessionOutcome =
  | { kind: "denied"; session: string | null; message: string }
  | { kind: "failed"; session: string | null; cause: "network" | "protocol" | "unsupported" | "local"; message: string }
  | { kind: "ended"; session: string; end: LinkEnd; summary: string };

/** Client parameters beyond the session config. */
export interface ClientParams {
  /** Per-record handshake timeout (global `timeout`), ms. */
  handshakeTimeoutMs: number;
  /** `stat yes` interval (tests shorten it). */
  statIntervalMs?: number;
}

/** Server parameters. */
export interface ServerParams {
  handshakeTimeoutMs: number;
  /** `stat yes` interval (tests shorten it). */
  statIntervalMs?: number;
  /** Looks up a session by name (the server's config). */
  findSession(name: string): SessionConfig | undefined;
  /** After authentication: may this session run now (`multi`)? A string refuses with that reason. */
  admit?(session: SessionConfig): Promise<true | string>;
}

/** The FLAGS a server sends for one of its sessions. */
export function flagsFor(session: SessionConfig): SessionFlags {
  return {
    proto: session.proto,
    type: session.type,
    // The client shapes its output at the second number of `speed A:B`.
    speed: session.speed && session.speed.toServer > 0 ? session.speed.toServer : null,
    compress: session.compress,
    keepalive: session.keepalive !== null,
    encrypt: session.encrypt,
  };
}

/** The vtund `stat` file line: `"%b %d %H:%M:%S" byte_in byte_out comp_in comp_out`. */
export function statLine(stats: LinkStats, date: Date): string {
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][date.getMonth()];
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp = `${month} ${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${stamp} ${stats.bytesIn} ${stats.bytesOut} ${stats.wireIn} ${stats.wireOut}\n`;
}

let warnedLegacyCipher = false;

function handshakeFailure(e: unknown, session: string | null): SessionOutcome {
  if (e instanceof HandshakeError) {
    if (e.failure === "denied") return { kind: "denied", session, message: e.message };
    const cause = e.failure === "protocol" ? "protocol" : e.failure === "unsupported" ? "unsupported" : "network";
    return { kind: "failed", session, cause, message: e.message };
  }
  throw e;
}

/** Runs the client side of a session on an established control connection. */
export async function runClientSession(
  io: SessionIo,
  session: SessionConfig,
  params: ClientParams,
  log: Logger,
): Promise<SessionOutcome> {
  let flags: SessionFlags;
  try {
    flags = await clientHandshake(io.control, {
      session: session.name,
      password: session.passwd,
      timeoutMs: params.handshakeTimeoutMs,
    });
  } catch (e) {
    return handshakeFailure(e, session.name);
  }
  log.info(`Remote server sends ${formatFlags(flags)}`);
  // The enable bit is the server's; the timing is our own (vtund presets 30:4).
  const keepalive = flags.keepalive ? session.keepalive ?? DEFAULT_KEEPALIVE : null;
  const speed = flags.speed !== null && flags.speed > 0 ? flags.speed : null;
  return await runAuthenticated(io, session, flags, { keepalive, speed, statIntervalMs: params.statIntervalMs }, "client", log);
}

/** Runs the server side of a session on an accepted control connection. */
export async function runServerSession(io: SessionIo, params: ServerParams, log: Logger): Promise<SessionOutcome> {
  const result = await serverHandshake(io.control, {
    timeoutMs: params.handshakeTimeoutMs,
    findSession: (name) => {
      const s = params.findSession(name);
      return s && { password: s.passwd, flags: flagsFor(s), config: s };
    },
    admit: params.admit ? (_name, s) => params.admit!(s.config) : undefined,
  });
  if (!result.ok) {
    return {
      kind: "denied",
      session: result.name,
      message: `Denied connection from ${formatEndpoint(io.remote)}: ${result.reason}`,
    };
  }
  const session = result.session.config;
  const speed = session.speed && session.speed.toClient > 0 ? session.speed.toClient : null;
  return await runAuthenticated(
    io,
    session,
    result.session.flags,
    { keepalive: session.keepalive, speed, statIntervalMs: params.statIntervalMs },
    "server",
    log.forSession(session.name),
  );
}

/** Link settings that differ between client and server. */
interface LinkSettings {
  keepalive: Keepalive | null;
  /** Shape our output at this many kbit/s, or null. */
  speed: number | null;
  statIntervalMs?: number;
}

async function runAuthenticated(
  io: SessionIo,
  session: SessionConfig,
  flags: SessionFlags,
  settings: LinkSettings,
  role: "client" | "server",
  log: Logger,
): Promise<SessionOutcome> {
  // Build the frame pipeline first: a cipher we cannot set up must not leave a device behind.
  let pipeline: Pipeline;
  try {
    await io.prepareStages?.(flags);
    pipeline = new Pipeline(buildStages(flags, session.passwd));
  } catch (e) {
    return { kind: "failed", session: session.name, cause: "unsupported", message: (e as Error).message };
  }
  for (const stage of pipeline.stages) {
    if (stage instanceof LzoStage) log.debug(`${stage.name}: compressing with ${stage.backend === "liblzo2" ? "liblzo2" : "the TypeScript LZO1X (no liblzo2)"}`);
  }
  if (flags.encrypt !== null && role === "client" && !warnedLegacyCipher) {
    warnedLegacyCipher = true;
    log.warn(LEGACY_CIPHER_WARNING);
  }
  // nat_hack: only the configured side waits for the peer's first datagram.
  const natHack = flags.proto === "udp" && session.natHack === role;
  let device: AnyDevice;
  try {
    device = io.openDevice(session, flags, settings.speed !== null);
  } catch (e) {
    pipeline.close();
    return { kind: "failed", session: session.name, cause: "local", message: (e as Error).message };
  }
  let transport: FrameTransport | null = null;
  try {
    let info: LinkInfo;
    if (flags.proto === "tcp") {
      transport = io.tcpTransport(session.tcpCongestion);
      info = { session: session.name, device: device.name, local: io.local, remote: io.remote };
    } else {
      const udp = io.bindUdp();
      // Each side expects the other's UDP port to equal its TCP port (no NAT between).
      const exchange = await exchangeUdpPorts(io.control, {
        role,
        ownPort: udp.local.port,
        expectedPeerPort: io.remote.port,
        timeoutMs: session.timeout * 1000,
      });
      if (!exchange.detected) {
        log.warn(`peer announced UDP port ${exchange.peerPort}, not the expected ${io.remote.port} (NAT?); assuming ${exchange.order === "le" ? "little" : "big"}-endian`);
      }
      const remote = { ...io.remote, port: exchange.peerPort };
      transport = udp.connect(remote, { awaitPeer: natHack });
      info = { session: session.name, device: device.name, local: udp.local, remote };
    }

    const packetDevice = flags.type === "tun" || flags.type === "ether";
    const link = new Link(device, transport, pipeline, {
      keepalive: settings.keepalive,
      initialEcho: !natHack,
      shaper: settings.speed !== null ? new Shaper(settings.speed) : undefined,
      stat: session.stat
        ? { intervalMs: settings.statIntervalMs ?? STAT_INTERVAL_MS, report: (stats) => io.appendStat(session.name, statLine(stats, new Date())) }
        : undefined,
      dropDummyPackets: packetDevice,
    }, log);
    const congestion = flags.proto === "tcp" && session.tcpCongestion !== null ? `tcp_congestion ${session.tcpCongestion}` : "";
    const extras = [describeStages(pipeline.stages), settings.speed !== null ? `speed ${settings.speed} kbit/s` : "", natHack ? "nat_hack" : "", congestion]
      .filter((x) => x !== "");
    log.info(
      `Session ${session.name}[${formatEndpoint(info.remote)}] opened: ${flags.proto}, ${flags.type} device ${device.name}` +
        (extras.length ? `, ${extras.join(", ")}` : ""),
    );
    io.linkUp(info, session.up, device);
    const end = await io.runLink(link);
    link.sayGoodbye();
    logEnd(log, session.name, end);
    log.info(`Session ${session.name} closed: ${link.stats.summary()}`);
    await io.linkDown(info, session.down);
    return { kind: "ended", session: session.name, end, summary: link.stats.summary() };
  } catch (e) {
    if (e instanceof StreamError) {
      return { kind: "failed", session: session.name, cause: "network", message: `UDP port exchange: ${e.message}` };
    }
    return { kind: "failed", session: session.name, cause: "local", message: (e as Error).message };
  } finally {
    transport?.close();
    io.releaseDevice(device);
    pipeline.close();
  }
}

function logEnd(log: Logger, session: string, end: LinkEnd): void {
  switch (end.kind) {
    case "closed-by-peer":
      return log.info("Connection closed by other side");
    case "eof":
      return log.info("Connection closed by other side (end of stream)");
    case "timeout":
      return log.warn(`Session ${session} network timeout`);
    case "stopped":
      return log.info(`Closing connection: ${end.why}`);
    case "error":
      return log.error(`Link failed: ${end.message}`);
  }
}
