/**
 * The server daemon (`vtunts -s`): listens, and runs every accepted
 * connection in its own worker (vtund forks a process per connection).
 * SIGTERM/SIGINT end every session cleanly; SIGHUP re-reads the config for
 * new connections.
 */
import { networkInterfaces } from "node:os";
import type { Libc } from "../../ffi/index.ts";
import type { Config } from "../config/config.ts";
import { ExitCode, exitCodeFor, FatalError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { addressFamily, formatEndpoint, type Endpoint } from "../transport/address.ts";
import { listenTcp, peerEndpoint } from "../transport/socket.ts";
import { SessionWorker } from "./session_worker.ts";
import { onSignals } from "./signals.ts";
import type { LogTarget } from "./syslog.ts";
import { VERSION } from "../version.ts";

/** Connections still authenticating at once; more are closed at once (a flood must not exhaust us). */
export const MAX_PENDING_HANDSHAKES = 64;
/** How long shutdown waits for sessions to finish their down commands. */
const SHUTDOWN_GRACE_MS = 15_000;

/** Command-line settings of a server run. */
export interface ServerOptions {
  /** -P */
  port?: number;
  /** -L */
  bindaddr?: string;
  /** -t: handshake timeout, seconds. */
  timeout?: number;
  /** Re-reads the configuration (SIGHUP); throws on errors. */
  reload(): Config;
  /** Where workers log. */
  logTarget: LogTarget;
  /** Called once the socket listens (daemon readiness). */
  onListening?(endpoint: Endpoint): void;
  /** Called when a session has authenticated and its link is up. */
  onSessionUp?(): void;
  /** -4/-6 (else the config's family). */
  family?: "ipv4" | "ipv6";
  /** -i: serve the one connection on fd 0 and exit. */
  inetd?: boolean;
}

/** How long `multi killold` waits for the old session to end before the new one runs anyway. */
const KILLOLD_WAIT_MS = 5000;

/**
 * vtund's per-session lock: `multi allow` lets any number of connections run
 * a session, `deny` refuses a second one, `killold` ends the running one first.
 */
export async function admitSession(
  running: Iterable<SessionWorker>,
  self: SessionWorker,
  session: string,
  multi: "allow" | "deny" | "killold",
  log: Logger,
): Promise<true | string> {
  if (multi === "allow") return true;
  const others = [...running].filter((w) => w !== self && w.session === session);
  if (others.length === 0) return true;
  if (multi === "deny") return `session ${session} is already in use (multi no)`;
  log.info(`Session ${session}: closing the old connection (multi killold)`);
  for (const w of others) w.stop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.all(others.map((w) => w.done)), new Promise((r) => (timer = setTimeout(r, KILLOLD_WAIT_MS)))]);
  clearTimeout(timer);
  return true;
}

/** The address to listen on: -L, else the `bindaddr` interface's or address, for the family. */
export function listenAddress(config: Config, cliAddress: string | undefined, family: "ipv4" | "ipv6"): string {
  if (cliAddress !== undefined) return cliAddress;
  const o = config.options;
  if (o.bindiface !== null) {
    const addrs = networkInterfaces()[o.bindiface];
    if (!addrs || addrs.length === 0) throw new FatalError(`bindaddr: no interface "${o.bindiface}" (or it has no address)`, ExitCode.LOCAL);
    const want = family === "ipv6" ? "IPv6" : "IPv4";
    const a = addrs.find((x) => x.family === want) ?? addrs[0]!;
    return a.address;
  }
  // An IPv6 server on the default address listens on :: (which also takes IPv4 clients).
  if (family === "ipv6" && o.bindaddr === "0.0.0.0") return "::";
  return o.bindaddr;
}

/** Runs the server until SIGTERM/SIGINT; resolves with the exit code. */
export async function runServer(libc: Libc, initial: Config, opts: ServerOptions, log: Logger): Promise<number> {
  let config = initial;
  if (opts.inetd) return await runInetd(libc, config, opts, log);
  const address = listenAddress(config, opts.bindaddr, opts.family ?? config.options.family);
  const family = addressFamily(address);
  if (family === null) throw new FatalError(`-L: "${address}" is not an IP address`, ExitCode.USAGE);
  const bind: Endpoint = { family, address, port: opts.port ?? config.options.port };
  let listenFd: number;
  try {
    listenFd = listenTcp(libc, bind);
  } catch (e) {
    throw new FatalError((e as Error).message, ExitCode.LOCAL);
  }
  const sessions = new Set<SessionWorker>();
  let stopping = false;
  let requestShutdown!: (signal: string) => void;
  const shutdown = new Promise<string>((resolve) => (requestShutdown = resolve));

  const accept = (fd: number, peer: Endpoint) => {
    const pending = [...sessions].filter((s) => !s.authenticated).length;
    if (stopping || pending >= MAX_PENDING_HANDSHAKES) {
      log.warn(`refusing connection from ${formatEndpoint(peer)}: ${stopping ? "shutting down" : `${pending} handshakes already in progress`}`);
      libc.close(fd);
      return;
    }
    log.debug(`connection from ${formatEndpoint(peer)}`);
    const worker = new SessionWorker(libc, {
      role: "server",
      connFd: fd,
      peer,
      sessions: [...config.sessions.values()],
      handshakeTimeoutMs: (opts.timeout ?? config.options.timeout) * 1000,
      logLevel: log.level,
      logTarget: opts.logTarget,
    }, log, { onAdmit: (name, multi, self) => admitSession(sessions, self, name, multi, log), onUp: opts.onSessionUp });
    sessions.add(worker);
    void worker.done.then((outcome) => {
      sessions.delete(worker);
      if (outcome?.kind === "denied") log.warn(outcome.message);
      else if (outcome?.kind === "failed") log.error(`${outcome.session ? `[${outcome.session}] ` : ""}${outcome.message}`);
    });
  };

  const acceptor = new SessionWorker(libc, { role: "acceptor", listenFd, logLevel: log.level, logTarget: opts.logTarget }, log, {
    onAccepted: accept,
  });

  const removeSignals = onSignals({
    terminate: (signal) => {
      if (!stopping) requestShutdown(signal);
      stopping = true;
    },
    resetStats: () => {
      for (const s of sessions) s.resetStats();
    },
    hangup: () => {
      try {
        config = opts.reload();
        log.info(`SIGHUP: configuration re-read, ${config.sessions.size} session(s) defined`);
      } catch (e) {
        log.error(`SIGHUP: keeping the old configuration: ${(e as Error).message}`);
      }
    },
  });
  // Announced only now: a script that signals a daemon it saw listening must not kill it.
  log.info(`vtunts server ${VERSION}: waiting for connections on ${formatEndpoint(bind)}`);
  opts.onListening?.(bind);

  const signal = await shutdown;
  log.info(`${signal} received: closing ${sessions.size} session(s)`);
  acceptor.stop();
  for (const s of sessions) s.stop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all([...sessions].map((s) => s.done)),
    new Promise((r) => (timer = setTimeout(r, SHUTDOWN_GRACE_MS))),
  ]);
  clearTimeout(timer);
  if (sessions.size > 0) log.warn(`${sessions.size} session(s) did not finish within ${SHUTDOWN_GRACE_MS / 1000} s`);
  await acceptor.done;
  removeSignals();
  libc.close(listenFd);
  log.info("server stopped");
  return ExitCode.OK;
}

/**
 * inetd mode (`-i`): the connection is already open on fd 0 (inetd, xinetd or
 * systemd socket activation with `Accept=yes`); run its one session and exit.
 */
async function runInetd(libc: Libc, config: Config, opts: ServerOptions, log: Logger): Promise<number> {
  let peer: Endpoint;
  try {
    peer = peerEndpoint(libc, 0);
  } catch (e) {
    throw new FatalError(
      `-i: stdin is not a TCP connection (${(e as Error).message}); inetd passes the socket itself (with socat: EXEC:…,nofork)`,
      ExitCode.USAGE,
    );
  }
  const worker = new SessionWorker(libc, {
    role: "server",
    connFd: 0,
    peer,
    sessions: [...config.sessions.values()],
    handshakeTimeoutMs: (opts.timeout ?? config.options.timeout) * 1000,
    logLevel: log.level,
    logTarget: opts.logTarget,
  }, log, { onUp: opts.onSessionUp });
  const removeSignals = onSignals({ terminate: () => worker.stop(), resetStats: () => worker.resetStats() });
  const outcome = await worker.done;
  removeSignals();
  if (outcome?.kind === "denied") log.warn(outcome.message);
  else if (outcome?.kind === "failed") log.error(outcome.message);
  return exitCodeFor(outcome);
}
