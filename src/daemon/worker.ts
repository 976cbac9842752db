/**
 * Entry point of a worker thread: runs one {@link WorkerJob}.
 *
 * Session workers implement {@link SessionIo} with real sockets and TUN
 * devices and block in poll() (the link's data path never touches the main
 * thread's event loop). A wake-up pipe from the main thread interrupts any wait.
 */
import { parentPort, workerData } from "node:worker_threads";
import { loadLibc, loadLibCrypto, loadLibLzo, type Libc } from "../../ffi/index.ts";
import { POLLIN } from "../../ffi/libc.ts";
import type { SessionConfig } from "../config/config.ts";
import { openTun, TunDevice } from "../device/tun.ts";
import { OffloadTun, openSessionTun, underlyingTun } from "../device/offload_tun.ts";
import { openPipe, openPty, StreamDevice } from "../device/stream.ts";
import { appendFileSync, mkdirSync } from "node:fs";
import type { Command } from "../config/config.ts";
import type { SessionFlags } from "../protocol/flags.ts";
import type { AnyDevice } from "../device/device.ts";
import { runPollLoop } from "../link/poll_loop.ts";
import type { Logger } from "../log.ts";
import { makeLogger } from "./syslog.ts";
import { formatEndpoint, type Endpoint } from "../transport/address.ts";
import { FdStream } from "../transport/fd_stream.ts";
import {
  acceptTcp,
  bindUdpBesideTcp,
  connectTcp,
  connectUdp,
  localEndpoint,
  peerEndpoint,
  setSocketBuffers,
  setTcpCongestion,
  tuneTcpSession,
} from "../transport/socket.ts";
import { TcpFrameTransport } from "../transport/tcp.ts";
import { UdpFrameTransport } from "../transport/udp.ts";
import { Cancelled, waitFor } from "../transport/wait.ts";
import { DISABLED_FEATURES } from "../runtime/process.ts";
import type { AcceptorJob, ClientJob, KeptDevice, MainEvent, ServerJob, WorkerEvent, WorkerJob } from "./messages.ts";
import { runClientSession, runServerSession, type LinkInfo, type SessionIo, type SessionOutcome } from "./session.ts";
import type { Link, LinkEnd } from "../link/link.ts";

const port = parentPort!;
const post = (event: WorkerEvent) => port.postMessage(event);

/** Where `stat yes` writes (vtund's directory; VTUNTS_STAT_DIR overrides it, e.g. in tests). */
const STAT_DIR = process.env.VTUNTS_STAT_DIR ?? "/var/log/vtund";

/** `stat yes` interval; VTUNTS_STAT_INTERVAL (seconds) shortens it for tests. */
const STAT_INTERVAL_MS = process.env.VTUNTS_STAT_INTERVAL ? Number(process.env.VTUNTS_STAT_INTERVAL) * 1000 : undefined;

/** Socket buffers for data connections (wireguard-go uses 7 MB; the kernel caps to its limits). */
const SOCKET_BUFFER = 4 * 1024 * 1024;

/** Waits for the main thread's next message (used while the link is not running). */
function nextMessage(): Promise<MainEvent> {
  return new Promise((resolve) => port.once("message", resolve));
}

/** SessionIo over a connected TCP socket. */
class WorkerIo implements SessionIo {
  readonly control: FdStream;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  private tcpOpen = true;

  constructor(
    private readonly libc: Libc,
    private readonly tcpFd: number,
    private readonly wakeFd: number,
    private keptDevice: KeptDevice | null,
    private readonly keepDevice: boolean,
    private readonly log: Logger,
  ) {
    this.control = new FdStream(libc, tcpFd, wakeFd);
    this.local = localEndpoint(libc, tcpFd);
    this.remote = peerEndpoint(libc, tcpFd);
  }

  openDevice(session: SessionConfig, flags: SessionFlags, shaped: boolean): AnyDevice {
    if (flags.type === "pipe") return openPipe(this.libc);
    if (flags.type === "tty") return openPty(this.libc);
    if (this.keptDevice) {
      const { fd, name, offloads = 0 } = this.keptDevice;
      this.keptDevice = null;
      const tun = new TunDevice(this.libc, fd, name, offloads !== 0, offloads);
      return offloads !== 0 ? new OffloadTun(tun) : tun;
    }
    const name = session.device ?? undefined;
    if (flags.type === "ether") return openTun(this.libc, { mode: "tap", name });
    // Layer 3 only: offloads hand over TCP super-segments, which only a tun session can cut up.
    const noOffloads = DISABLED_FEATURES.has("tun-offload") ? "VTUNTS_DISABLE" : shaped ? "speed: the shaper takes one packet at a time" : undefined;
    return openSessionTun(this.libc, name, this.log, noOffloads);
  }

  releaseDevice(device: AnyDevice): void {
    const tun = underlyingTun(device);
    if (this.keepDevice && tun) {
      // persist keep: the main thread holds the fd for the next session.
      post({ type: "keep-device", device: { fd: tun.fd, name: tun.name, offloads: tun.offloads } });
    } else {
      device.close();
    }
  }

  tcpTransport(congestion: string | null): TcpFrameTransport {
    tuneTcpSession(this.libc, this.tcpFd);
    if (congestion !== null) setTcpCongestion(this.libc, this.tcpFd, congestion);
    setSocketBuffers(this.libc, this.tcpFd, SOCKET_BUFFER);
    this.tcpOpen = false; // the transport owns the socket now
    return new TcpFrameTransport(this.libc, this.tcpFd, {
      holdReads: !DISABLED_FEATURES.has("read-hold"),
      limitUnsent: !DISABLED_FEATURES.has("unsent-limit"),
      reportRate: !DISABLED_FEATURES.has("rate-queues"),
    });
  }

  bindUdp() {
    const { fd, local } = bindUdpBesideTcp(this.libc, this.tcpFd);
    return {
      local,
      connect: (peer: Endpoint, options?: { awaitPeer: boolean }) => {
        const awaitPeer = options?.awaitPeer ?? false;
        try {
          if (!awaitPeer) connectUdp(this.libc, fd, peer);
          setSocketBuffers(this.libc, fd, SOCKET_BUFFER);
        } catch (e) {
          this.libc.close(fd);
          throw e;
        }
        this.closeControl();
        const udp = new UdpFrameTransport(this.libc, fd, { awaitPeer, gso: !DISABLED_FEATURES.has("udp-gso"), gro: !DISABLED_FEATURES.has("udp-gro") });
        this.log.debug(`udp: segmentation offload (UDP_SEGMENT) ${udp.gsoAvailable ? "on" : "off"}, receive coalescing (UDP_GRO) ${udp.coalesced ? "on" : "off"}`);
        return udp;
      },
    };
  }

  runLink(link: Link): Promise<LinkEnd> {
    return Promise.resolve(runPollLoop(this.libc, link, this.wakeFd, { lonePath: !DISABLED_FEATURES.has("lone-path") }));
  }

  linkUp(info: LinkInfo, commands: readonly Command[], device: AnyDevice): void {
    // pipe/tty: the main thread starts the commands on the device's other end, then closes it.
    const stdioFd = device instanceof StreamDevice ? device.takeProgramFd() : null;
    post({ type: "up", info, commands: [...commands], stdioFd });
  }

  async linkDown(info: LinkInfo, commands: readonly Command[]): Promise<void> {
    post({ type: "down", info, commands: [...commands] });
    await nextMessage();
  }

  /**
   * Encrypted sessions run AES in libcrypto (ffi/libcrypto.ts) and LZO sessions
   * compress with liblzo2 (ffi/liblzo.ts) where they load, unless VTUNTS_DISABLE
   * names libcrypto or liblzo.
   */
  async prepareStages(flags: SessionFlags): Promise<void> {
    if (flags.encrypt !== null && !DISABLED_FEATURES.has("libcrypto")) await loadLibCrypto();
    if (flags.compress?.method === "lzo" && !DISABLED_FEATURES.has("liblzo")) await loadLibLzo();
  }

  appendStat(session: string, line: string): void {
    try {
      mkdirSync(STAT_DIR, { recursive: true });
      appendFileSync(`${STAT_DIR}/${session.slice(0, 20)}`, line);
    } catch (e) {
      if (!this.statFailed) post({ type: "log", level: "warn", message: `stat: cannot write ${STAT_DIR}/${session}: ${(e as { code?: string }).code ?? e}` });
      this.statFailed = true;
    }
  }
  private statFailed = false;

  /** Hands a kept device that this session did not get to use back to the main thread. */
  returnUnusedDevice(): void {
    if (this.keptDevice) post({ type: "keep-device", device: this.keptDevice });
    this.keptDevice = null;
  }

  /** Closes the control connection if no transport took it over. */
  closeControl(): void {
    if (this.tcpOpen) {
      this.tcpOpen = false;
      this.libc.close(this.tcpFd);
    }
  }
}

async function runClient(libc: Libc, job: ClientJob, log: Logger): Promise<SessionOutcome | null> {
  let fd: number;
  try {
    if (!job.quiet) log.info(`Connecting to ${formatEndpoint(job.server)}`);
    fd = connectTcp(libc, job.server, job.session.timeout * 1000, job.wakeFd, job.source);
  } catch (e) {
    if (job.keptDevice) post({ type: "keep-device", device: job.keptDevice });
    if (e instanceof Cancelled) return null;
    return { kind: "failed", session: job.session.name, cause: "network", message: (e as Error).message };
  }
  const io = new WorkerIo(libc, fd, job.wakeFd, job.keptDevice, job.session.persist === "keep", log);
  try {
    return await runClientSession(io, job.session, { handshakeTimeoutMs: job.handshakeTimeoutMs, statIntervalMs: STAT_INTERVAL_MS }, log);
  } finally {
    io.returnUnusedDevice();
    io.closeControl();
  }
}

async function runServer(libc: Libc, job: ServerJob, log: Logger): Promise<SessionOutcome> {
  const sessions = new Map(job.sessions.map((s) => [s.name, s]));
  const serverLog = log.forSession(formatEndpoint(job.peer));
  const io = new WorkerIo(libc, job.connFd, job.wakeFd, null, false, serverLog);
  try {
    return await runServerSession(
      io,
      {
        handshakeTimeoutMs: job.handshakeTimeoutMs,
        statIntervalMs: STAT_INTERVAL_MS,
        findSession: (name) => sessions.get(name),
        // multi: the main thread knows which sessions run in other workers.
        admit: async (session) => {
          post({ type: "admit", session: session.name, multi: session.multi });
          const reply = await nextMessage();
          return reply.type === "admit-reply" ? reply.verdict : "internal error: no admission reply";
        },
      },
      serverLog,
    );
  } finally {
    io.closeControl();
  }
}

function runAcceptor(libc: Libc, job: AcceptorJob, log: Logger): void {
  for (;;) {
    const ready = waitFor(libc, job.listenFd, POLLIN, 3_600_000, job.wakeFd);
    if (ready === "cancelled") return;
    if (ready !== "ready") continue;
    try {
      for (let conn = acceptTcp(libc, job.listenFd); conn; conn = acceptTcp(libc, job.listenFd)) {
        post({ type: "accepted", fd: conn.fd, peer: conn.peer });
      }
    } catch (e) {
      // EMFILE and friends: say so, back off a little instead of spinning.
      log.error((e as Error).message);
      waitFor(libc, -1, 0, 1000, job.wakeFd);
    }
  }
}

async function main(): Promise<void> {
  const job = workerData as WorkerJob;
  const libc = await loadLibc();
  const log = makeLogger(libc, job.logTarget, job.logLevel);
  let outcome: SessionOutcome | null = null;
  try {
    if (job.role === "acceptor") runAcceptor(libc, job, log);
    else if (job.role === "client") outcome = await runClient(libc, job, log.forSession(job.session.name));
    else outcome = await runServer(libc, job, log);
  } catch (e) {
    // A bug, not a user mistake: report it with its stack, and let the main thread clean up.
    log.error(`worker failed: ${(e as Error).stack ?? String(e)}`);
    outcome = { kind: "failed", session: null, cause: "local", message: (e as Error).message };
  }
  post({ type: "done", outcome });
}

void main();
