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
import type { SessionConfig } from "../config/config.ts";
import { DEFAULT_KEEPALIVE } from "../config/config.ts";
import type { Device } from "../device/device.ts";
import { Link, type Keepalive, type LinkEnd } from "../link/link.ts";
import { Pipeline } from "../link/pipeline.ts";
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
  /** Opens (or takes over a kept) device for an authenticated session. */
  openDevice(session: SessionConfig, flags: SessionFlags): Device;
  /** Frees the device: closes it, or keeps it for the next session (`persist keep`). */
  releaseDevice(device: Device): void;
  /** proto tcp: frames continue on the control connection. */
  tcpTransport(): FrameTransport;
  /** proto udp: a UDP socket bound beside the control connection; `connect` closes TCP. */
  bindUdp(): { local: Endpoint; connect(peer: Endpoint): FrameTransport };
  /** Runs the link until it ends (or is stopped). */
  runLink(link: Link): Promise<LinkEnd>;
  /** The link is up: run the `up` commands (in the background). */
  linkUp(info: LinkInfo, commands: string[]): void;
  /** The link is down: run the `down` commands; resolves when they finished. */
  linkDown(info: LinkInfo, commands: string[]): Promise<void>;
}

/** How a session ended, for the log and the client's exit code. */
export type SessionOutcome =
  | { kind: "denied"; session: string | null; message: string }
  | { kind: "failed"; session: string | null; cause: "network" | "protocol" | "unsupported" | "local"; message: string }
  | { kind: "ended"; session: string; end: LinkEnd; summary: string };

/** Client parameters beyond the session config. */
export interface ClientParams {
  /** Per-record handshake timeout (global `timeout`), ms. */
  handshakeTimeoutMs: number;
}

/** Server parameters. */
export interface ServerParams {
  handshakeTimeoutMs: number;
  /** Looks up a session by name (the server's config). */
  findSession(name: string): SessionConfig | undefined;
}

/** The FLAGS a server sends for one of its sessions. */
export function flagsFor(session: SessionConfig): SessionFlags {
  return {
    proto: session.proto,
    type: session.type,
    speed: null,
    compress: null,
    keepalive: session.keepalive !== null,
    encrypt: null,
  };
}

/** Why this build cannot run a session with `flags`, or null if it can. */
export function unsupportedFlags(flags: SessionFlags): string | null {
  if (flags.type !== "tun") return `session type "${flags.type}"`;
  if (flags.encrypt !== null) return `encryption (cipher ${flags.encrypt})`;
  if (flags.compress !== null) return `${flags.compress.method} compression`;
  return null;
}

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
  const missing = unsupportedFlags(flags);
  if (missing !== null) {
    return {
      kind: "failed",
      session: session.name,
      cause: "unsupported",
      message: `the server's session needs ${missing}, which this version of vtunts does not support yet`,
    };
  }
  if (flags.speed !== null) log.warn(`the server asks for traffic shaping (${flags.speed} kbit/s), which this version does not do`);
  // The enable bit is the server's; the timing is our own (vtund presets 30:4).
  const keepalive = flags.keepalive ? session.keepalive ?? DEFAULT_KEEPALIVE : null;
  return await runAuthenticated(io, session, flags, keepalive, "client", log);
}

/** Runs the server side of a session on an accepted control connection. */
export async function runServerSession(io: SessionIo, params: ServerParams, log: Logger): Promise<SessionOutcome> {
  const result = await serverHandshake(io.control, {
    timeoutMs: params.handshakeTimeoutMs,
    findSession: (name) => {
      const s = params.findSession(name);
      return s && { password: s.passwd, flags: flagsFor(s), config: s };
    },
  });
  if (!result.ok) {
    return {
      kind: "denied",
      session: result.name,
      message: `Denied connection from ${formatEndpoint(io.remote)}: ${result.reason}`,
    };
  }
  const session = result.session.config;
  return await runAuthenticated(io, session, result.session.flags, session.keepalive, "server", log.forSession(session.name));
}

async function runAuthenticated(
  io: SessionIo,
  session: SessionConfig,
  flags: SessionFlags,
  keepalive: Keepalive | null,
  role: "client" | "server",
  log: Logger,
): Promise<SessionOutcome> {
  let device: Device;
  try {
    device = io.openDevice(session, flags);
  } catch (e) {
    return { kind: "failed", session: session.name, cause: "local", message: (e as Error).message };
  }
  let transport: FrameTransport | null = null;
  try {
    let info: LinkInfo;
    if (flags.proto === "tcp") {
      transport = io.tcpTransport();
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
      transport = udp.connect(remote);
      info = { session: session.name, device: device.name, local: udp.local, remote };
    }

    const link = new Link(device, transport, new Pipeline([]), { keepalive, initialEcho: true }, log);
    log.info(`Session ${session.name}[${formatEndpoint(info.remote)}] opened: ${flags.proto}, device ${device.name}`);
    io.linkUp(info, session.up);
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
