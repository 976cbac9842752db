/**
 * The configuration vtunts runs on, after parsing and validation: the
 * `[options]` section and one {@link SessionConfig} per `[hosts.NAME]` table,
 * with `[default]` already merged in. Names and values follow vtund.conf(5).
 */
import type { Keepalive } from "../link/link.ts";
import type { Proto, SessionType } from "../protocol/flags.ts";

/** Global options (`[options]`). */
export interface Options {
  /** Server listen port / client destination port (vtund default 5000). */
  port: number;
  /** Server listen address. */
  bindaddr: string;
  /** Seconds to wait for each handshake record (vtund's global `timeout`, default 30). */
  timeout: number;
}

/** One session (`[hosts.NAME]`). */
export interface SessionConfig {
  /** The session name, as the client sends it in `HOST:`. */
  name: string;
  passwd: string;
  type: SessionType;
  proto: Proto;
  /** Interface name, or null to let the kernel choose (tun0, tun1, …). */
  device: string | null;
  /** Client: reconnect after the session ends (`yes`), also keeping the device (`keep`), or exit (`no`). */
  persist: "yes" | "keep" | "no";
  /** Keepalive (the server's setting enables it for both ends), or null = off. */
  keepalive: Keepalive | null;
  /** Client connect timeout and UDP port-exchange timeout, seconds (default 30). */
  timeout: number;
  /** Shell commands run after the device is opened. */
  up: string[];
  /** Shell commands run after the link ends, before the device is closed. */
  down: string[];
}

/** A whole configuration file. */
export interface Config {
  /** Where it came from, for messages. */
  source: string;
  options: Options;
  sessions: Map<string, SessionConfig>;
}

/** vtund's defaults. */
export const DEFAULT_OPTIONS: Options = { port: 5000, bindaddr: "0.0.0.0", timeout: 30 };
/** Keepalive timing of `keepalive yes`. */
export const DEFAULT_KEEPALIVE: Keepalive = { intervalSec: 30, maxFail: 4 };
/** Default config file. */
export const DEFAULT_CONFIG_PATH = "/etc/vtunts.toml";
