/**
 * What the main thread and the worker threads say to each other. The main
 * thread is the control plane (signals, up/down commands, reconnects); each
 * worker owns one socket and blocks in poll() on it. File descriptors are
 * process-wide, so they travel as plain numbers.
 */
import type { Command, SessionConfig } from "../config/config.ts";
import type { Level } from "../log.ts";
import type { LogTarget } from "./syslog.ts";
import type { Endpoint } from "../transport/address.ts";
import type { LinkInfo, SessionOutcome } from "./session.ts";

/** A device kept open across sessions (`persist keep`). */
export interface KeptDevice {
  fd: number;
  name: string;
  /** TUN_F_* offloads the fd was opened with (IFF_VNET_HDR); absent or 0 for a plain fd. */
  offloads?: number;
}

/** Connect to a server and run the client side of `session`. */
export interface ClientJob {
  role: "client";
  session: SessionConfig;
  server: Endpoint;
  handshakeTimeoutMs: number;
  keptDevice: KeptDevice | null;
  /** `srcaddr`: bind the connection to this address/port first. */
  source?: Endpoint;
  /** -q: do not log connection attempts. */
  quiet: boolean;
  wakeFd: number;
  logLevel: Level;
  logTarget: LogTarget;
}

/** Run the server side on an accepted connection. */
export interface ServerJob {
  role: "server";
  connFd: number;
  peer: Endpoint;
  sessions: SessionConfig[];
  handshakeTimeoutMs: number;
  wakeFd: number;
  logLevel: Level;
  logTarget: LogTarget;
}

/** Accept connections on a listening socket and hand them to the main thread. */
export interface AcceptorJob {
  role: "acceptor";
  listenFd: number;
  wakeFd: number;
  logLevel: Level;
  logTarget: LogTarget;
}

/** The data a worker is started with. */
export type WorkerJob = ClientJob | ServerJob | AcceptorJob;

/** Worker → main. */
export type WorkerEvent =
  | { type: "up"; info: LinkInfo; commands: Command[]; stdioFd: number | null }
  | { type: "down"; info: LinkInfo; commands: Command[] }
  | { type: "log"; level: "info" | "warn" | "error"; message: string }
  | { type: "admit"; session: string; multi: "allow" | "deny" | "killold" }
  | { type: "keep-device"; device: KeptDevice }
  | { type: "accepted"; fd: number; peer: Endpoint }
  | { type: "done"; outcome: SessionOutcome | null };

/** Main → worker. */
export type MainEvent = { type: "down-done" } | { type: "admit-reply"; verdict: true | string };
