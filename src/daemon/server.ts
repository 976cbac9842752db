/**
 * The server daemon (`vtunts -s`): listens, and runs every accepted
 * connection in its own worker (vtund forks a process per connection).
 * SIGTERM/SIGINT end every session cleanly; SIGHUP re-reads the config for
 * new connections.
 */
import type { Libc } from "../../ffi/index.ts";
import type { Config } from "../config/config.ts";
import { ExitCode, FatalError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { addressFamily, formatEndpoint, type Endpoint } from "../transport/address.ts";
import { listenTcp } from "../transport/socket.ts";
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
}

/** Runs the server until SIGTERM/SIGINT; resolves with the exit code. */
export async function runServer(libc: Libc, initial: Config, opts: ServerOptions, log: Logger): Promise<number> {
  let config = initial;
  const address = opts.bindaddr ?? config.options.bindaddr;
  const family = addressFamily(address);
  if (family === null) throw new FatalError(`-L: "${address}" is not an IP address`, ExitCode.USAGE);
  const bind: Endpoint = { family, address, port: opts.port ?? config.options.port };
  let listenFd: number;
  try {
    listenFd = listenTcp(libc, bind);
  } catch (e) {
    throw new FatalError((e as Error).message, ExitCode.LOCAL);
  }
  log.info(`vtunts server ${VERSION}: waiting for connections on ${formatEndpoint(bind)}`);
  opts.onListening?.(bind);

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
    }, log);
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
    hangup: () => {
      try {
        config = opts.reload();
        log.info(`SIGHUP: configuration re-read, ${config.sessions.size} session(s) defined`);
      } catch (e) {
        log.error(`SIGHUP: keeping the old configuration: ${(e as Error).message}`);
      }
    },
  });

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
