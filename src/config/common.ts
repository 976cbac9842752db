/**
 * What the TOML reader and the vtund.conf reader share: the error type, the
 * defaults of a session, and the checks of names, devices, addresses and
 * syslog facilities.
 */
import { addressFamily } from "../transport/address.ts";
import { IFNAME_MAX } from "../device/ifreq.ts";
import type { SessionType } from "../protocol/flags.ts";
import { DEFAULT_OPTIONS, type Options, type SessionConfig } from "./config.ts";

/** A configuration error; the message is one line: `file:line: where: what is wrong`. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Session names go into a 50-byte `HOST: name\n` record; vtund splits on spaces and colons. */
export const SESSION_NAME = /^[A-Za-z0-9_.+=@~-]{1,42}$/;

/** Longest session name (the `HOST: ` record is 50 bytes). */
export const SESSION_NAME_MAX = 42;

/** Syslog facilities by name, as vtund's `syslog` keyword knows them, with their codes. */
export const SYSLOG_FACILITIES: ReadonlyMap<string, number> = new Map([
  ["auth", 4 << 3],
  ["cron", 9 << 3],
  ["daemon", 3 << 3],
  ["kern", 0 << 3],
  ["lpr", 6 << 3],
  ["mail", 2 << 3],
  ["news", 7 << 3],
  ["syslog", 5 << 3],
  ["user", 1 << 3],
  ["uucp", 8 << 3],
  ["local0", 16 << 3],
  ["local1", 17 << 3],
  ["local2", 18 << 3],
  ["local3", 19 << 3],
  ["local4", 20 << 3],
  ["local5", 21 << 3],
  ["local6", 22 << 3],
  ["local7", 23 << 3],
]);

/** Whether `name` can name a network interface (1 to 15 bytes, no spaces or slashes). */
export function isDeviceName(name: string): boolean {
  return /^[A-Za-z0-9_.%-]+$/.test(name) && new TextEncoder().encode(name).length <= IFNAME_MAX;
}

/** What a device-name error says is expected. */
export const DEVICE_EXPECTED = `an interface name of 1 to ${IFNAME_MAX} characters`;

/**
 * Whether `name` can be a TCP congestion control algorithm: what the kernel
 * accepts in TCP_CONGESTION (at most 15 characters, TCP_CA_NAME_MAX); lower
 * case letters, digits and `_` as every in-tree one is named.
 */
export function isCongestionName(name: string): boolean {
  return /^[a-z0-9_]{1,15}$/.test(name);
}

/** What a tcp_congestion error says is expected. */
export const CONGESTION_EXPECTED = `"system" or the name of a TCP congestion control algorithm (e.g. "reno", "cubic", "bbr")`;

/** Whether `text` is an IPv4 or IPv6 address (host names are not resolved here). */
export function isIpAddress(text: string): boolean {
  return addressFamily(text) !== null;
}

/** Whether `n` is a whole number of seconds vtunts accepts for timeouts. */
export function isSeconds(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 86400;
}

/** Highest shaping speed, kbit/s (vtund keeps it in an int). */
export const SPEED_MAX = 2147483647;

/** The listen address when none is set (also what `bindaddr { iface X; }` leaves in `bindaddr`). */
export const DEFAULT_BINDADDR = DEFAULT_OPTIONS.bindaddr;

/** A fresh copy of vtund's global options. */
export function defaultOptions(): Options {
  return { ...DEFAULT_OPTIONS, programs: { ...DEFAULT_OPTIONS.programs } };
}

/** A session with every default and no password; `type` is "tun" for TOML, "tty" (vtund's) for vtund.conf. */
export function defaultSession(name: string, type: SessionType): SessionConfig {
  return {
    name,
    passwd: "",
    type,
    proto: "tcp",
    device: null,
    persist: "no",
    keepalive: null,
    timeout: 30,
    up: [],
    down: [],
    encrypt: null,
    compress: null,
    speed: null,
    stat: false,
    multi: "allow",
    srcaddr: null,
    natHack: null,
    tcpCongestion: null,
  };
}

/** The vtund-style command names an up/down list may use, and how each runs. */
export const NAMED_COMMANDS = {
  ppp: { wait: false, delayAfter: 10 },
  ifconfig: { wait: true, delayAfter: 0 },
  route: { wait: true, delayAfter: 0 },
  firewall: { wait: true, delayAfter: 0 },
  ip: { wait: true, delayAfter: 0 },
} as const;

/** One of {@link NAMED_COMMANDS}. */
export type NamedCommand = keyof typeof NAMED_COMMANDS;
