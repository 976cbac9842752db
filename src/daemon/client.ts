/**
 * The client daemon (`vtunts [options] <session> <server>`): connects, runs
 * the session in a worker, and — with `persist` — reconnects 5 s after it
 * ends or fails (at once after SIGHUP), as vtund does.
 */
import { lookup } from "node:dns/promises";
import { networkInterfaces } from "node:os";
import type { Libc } from "../../ffi/index.ts";
import type { Config, SessionConfig } from "../config/config.ts";
import { ExitCode, exitCodeFor, FatalError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { addressFamily, type Endpoint } from "../transport/address.ts";
import type { KeptDevice } from "./messages.ts";
import type { SessionOutcome } from "./session.ts";
import { SessionWorker } from "./session_worker.ts";
import { onSignals } from "./signals.ts";
import type { LogTarget } from "./syslog.ts";

/** vtund's delay between reconnect attempts: the first retry waits this long, as vtund's always do. */
export const RECONNECT_DELAY_MS = 5000;
/** Longest wait between attempts while the server stays unreachable. */
export const RECONNECT_MAX_MS = 60_000;

/**
 * The wait before reconnect attempt number `failures` (1 = right after the
 * first failure): vtund's 5 s, doubling while attempts keep failing, at most
 * a minute. A session that authenticated resets the count.
 */
export function reconnectDelay(failures: number): number {
  return Math.min(RECONNECT_MAX_MS, RECONNECT_DELAY_MS * 2 ** Math.max(0, failures - 1));
}

/** Command-line settings of a client run. */
export interface ClientOptions {
  session: string;
  server: string;
  /** -P */
  port?: number;
  /** -p: reconnect forever, whatever the session says. */
  persist: boolean;
  /** -t: connect and handshake timeout, seconds. */
  timeout?: number;
  /** Where workers log. */
  logTarget: LogTarget;
  /** -4/-6 (else the config's family). */
  family?: "ipv4" | "ipv6";
  /** -q: do not log connection attempts. */
  quiet?: boolean;
  /** Called when the session has authenticated and its link is up. */
  onSessionUp?(): void;
  /** Called once signals are handled (daemon readiness: a script may signal it from then on). */
  onStarted?(): void;
}

async function resolveServer(host: string, port: number, want: "ipv4" | "ipv6"): Promise<Endpoint> {
  const literal = addressFamily(host);
  if (literal !== null) return { family: literal, address: host, port };
  try {
    const { address, family } = await lookup(host, { family: want === "ipv6" ? 6 : 4 });
    return { family: family === 6 ? 6 : 4, address, port };
  } catch (e) {
    throw new Error(`client: cannot resolve "${host}": ${(e as { code?: string }).code ?? String(e)}`);
  }
}

/** The client's source address (`srcaddr`) for a server of `family`, or undefined for any. */
export function sourceEndpoint(session: SessionConfig, family: 4 | 6): Endpoint | undefined {
  const src = session.srcaddr;
  if (!src) return undefined;
  let address = src.addr;
  if (address === null && src.iface !== null) {
    const addrs = networkInterfaces()[src.iface] ?? [];
    const a = addrs.find((x) => x.family === (family === 6 ? "IPv6" : "IPv4") && !x.address.startsWith("fe80"));
    if (!a) throw new Error(`srcaddr: interface "${src.iface}" has no IPv${family} address`);
    address = a.address;
  }
  if (address === null) address = family === 6 ? "::" : "0.0.0.0";
  const f = addressFamily(address);
  if (f !== family) throw new Error(`srcaddr: ${address} is not an IPv${family} address like the server's`);
  return { family, address, port: src.port ?? 0 };
}

function describe(outcome: SessionOutcome, server: string): string {
  switch (outcome.kind) {
    case "denied":
      return `Connection denied by ${server}: ${outcome.message}`;
    case "failed":
      return outcome.message;
    case "ended":
      return `Session ended (${outcome.end.kind})`;
  }
}

/** Runs the client until it is done; resolves with the process exit code. */
export async function runClient(libc: Libc, config: Config, opts: ClientOptions, log: Logger): Promise<number> {
  const found = config.sessions.get(opts.session);
  if (!found) throw new FatalError(`Host ${opts.session} not found in ${config.source}`, ExitCode.USAGE);
  const session: SessionConfig = opts.timeout ? { ...found, timeout: opts.timeout } : found;
  const slog = log.forSession(session.name);
  const persist = opts.persist || session.persist !== "no";
  const port = opts.port ?? config.options.port;
  const handshakeTimeoutMs = (opts.timeout ?? config.options.timeout) * 1000;

  let stopping = false;
  let reconnectNow = false;
  let current: SessionWorker | null = null;
  let wakeSleep: (() => void) | null = null;
  let kept: KeptDevice | null = null;
  const removeSignals = onSignals({
    terminate: (signal) => {
      slog.info(`${signal} received, shutting down`);
      stopping = true;
      current?.stop();
      wakeSleep?.();
    },
    resetStats: () => current?.resetStats(),
    hangup: () => {
      if (current) {
        slog.info("SIGHUP received: reestablishing connection");
        reconnectNow = true;
        current.stop();
      }
    },
  });

  let lastOutcome: SessionOutcome | null = null;
  let failures = 0;
  opts.onStarted?.();
  try {
    slog.info(`vtunts client started for session ${session.name} → ${opts.server}:${port}${persist ? " (persist)" : ""}`);
    while (!stopping) {
      reconnectNow = false;
      try {
        const server = await resolveServer(opts.server, port, opts.family ?? config.options.family);
        const source = sourceEndpoint(session, server.family);
        const keptDevice = kept; // the worker owns it now and hands it back at the end
        kept = null;
        current = new SessionWorker(libc, {
          role: "client",
          session,
          server,
          handshakeTimeoutMs,
          keptDevice,
          source,
          quiet: opts.quiet ?? false,
          logLevel: log.level,
          logTarget: opts.logTarget,
        }, log, { onKeepDevice: (d) => void (kept = d), onUp: opts.onSessionUp });
        lastOutcome = await current.done;
        current = null;
      } catch (e) {
        lastOutcome = { kind: "failed", session: session.name, cause: "network", message: (e as Error).message };
      }
      if (stopping || lastOutcome === null) break;
      if (lastOutcome.kind !== "ended") slog.error(describe(lastOutcome, opts.server));
      if (!persist) break;
      if (reconnectNow) continue;
      // A session that ran resets the backoff; failed attempts in a row lengthen it.
      failures = lastOutcome.kind === "ended" ? 1 : failures + 1;
      const delay = reconnectDelay(failures);
      slog.info(`reconnecting in ${delay / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wakeSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeSleep = null;
    }
  } finally {
    removeSignals();
    // Assigned from the worker's callback, which TypeScript's flow analysis does not see.
    const last = kept as KeptDevice | null;
    if (last) libc.close(last.fd);
  }
  if (stopping) return ExitCode.OK;
  return exitCodeFor(lastOutcome);
}
