/**
 * The configuration vtunts runs on, after parsing and validation: the
 * `[options]` section and one {@link SessionConfig} per `[hosts.NAME]` table,
 * with `[default]` already merged in. Names and values follow vtund.conf(5).
 * Both readers produce it: src/config/toml.ts (TOML) and
 * src/config/vtund_conf.ts (vtund.conf syntax).
 */
import type { Keepalive } from "../link/link.ts";
import type { Proto, SessionType } from "../protocol/flags.ts";

/** Programs the vtund-style `ppp`, `ifconfig`, `route`, `firewall` and `ip` commands run. */
export interface ProgramPaths {
  ppp: string;
  ifconfig: string;
  route: string;
  firewall: string;
  ip: string;
}

/** Global options (`[options]`). */
export interface Options {
  /** Server listen port / client destination port (vtund default 5000). */
  port: number;
  /** Server listen address (an IP address); see also {@link bindiface}. */
  bindaddr: string;
  /** Server: listen on the (first IPv4, else IPv6) address of this interface instead of `bindaddr`. */
  bindiface: string | null;
  /** Seconds to wait for each handshake record (vtund's global `timeout`, default 30). */
  timeout: number;
  /** Transport address family (Debian's `ipv4;`/`ipv6;`, `-4`/`-6`). */
  family: "ipv4" | "ipv6";
  /** Server mode: standalone listener or one connection on stdin (`inetd`, `-i`). */
  mode: "stand" | "inetd";
  /** Syslog facility name, e.g. "daemon" or "local0". */
  syslog: string;
  /** Paths of the programs behind the named up/down commands. */
  programs: ProgramPaths;
}

/**
 * One up/down command. vtund's forms map onto it: `program PATH "ARGS" wait;`
 * → {program: PATH, args, wait}; `program "ARGS";` → shell; `ip "ARGS";` →
 * {program: options.programs.ip, args, wait: true}; `ppp "ARGS";` → no wait, 10 s delay.
 * A plain TOML string is a shell command that is waited for.
 */
export interface Command {
  /** Program to exec with `args` split into argv (vtund's rules), or null for `/bin/sh -c args`. */
  program: string | null;
  /** Arguments (or the shell command line), before `%d %A %P %a %p %h %%` substitution. */
  args: string;
  /** Wait for the command to finish before starting the next one. */
  wait: boolean;
  /** Seconds to pause after starting it (vtund's `ppp`: 10). */
  delayAfter: number;
}

/** Compression of a session (`compress`). */
export interface Compression {
  method: "zlib" | "lzo";
  /** 1..9 */
  level: number;
}

/** Client source address (`srcaddr`). */
export interface SourceAddress {
  /** IP address to bind to, or null. */
  addr: string | null;
  /** Interface whose address to bind to, or null. */
  iface: string | null;
  /** Source port, or null for any. */
  port: number | null;
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
  /** Commands run after the device is opened. */
  up: Command[];
  /** Commands run after the link ends, before the device is closed. */
  down: Command[];
  /** Cipher number of vtund's table (1..16, 999 = oldblowfish128ecb), or null = off. Server decides. */
  encrypt: number | null;
  /** Compression, or null = off. Server decides. */
  compress: Compression | null;
  /**
   * Traffic shaping in kbit/s (`speed A:B`): the server shapes its own output at
   * `toClient` (A) and tells the client to shape its output at `toServer` (B). null = off.
   */
  speed: { toClient: number; toServer: number } | null;
  /** Append traffic counters to the stat file every 5 minutes (`stat yes`). */
  stat: boolean;
  /** Server: what a second connection for a session that is already up does. */
  multi: "allow" | "deny" | "killold";
  /** Client source address, or null. */
  srcaddr: SourceAddress | null;
  /** Which side waits for the peer's first UDP datagram before sending (`nat_hack`), or null. */
  natHack: "client" | "server" | null;
  /**
   * Congestion control of this side's TCP data connection (`tcp_congestion`,
   * TOML only), e.g. "reno"; null = the system's default. Local: each side
   * chooses for what it sends.
   */
  tcpCongestion: string | null;
}

/** A whole configuration file. */
export interface Config {
  /** Where it came from, for messages. */
  source: string;
  options: Options;
  sessions: Map<string, SessionConfig>;
  /**
   * Things worth telling the user that did not stop the file from loading
   * (vtund.conf: a session without passwd is ignored, a repeated session name
   * keeps its first definition, …). One line each, `file:line: …`. Absent or
   * empty when there is nothing to say.
   */
  warnings?: string[];
}

/** vtund's defaults. */
export const DEFAULT_OPTIONS: Options = {
  port: 5000,
  bindaddr: "0.0.0.0",
  bindiface: null,
  timeout: 30,
  family: "ipv4",
  mode: "stand",
  syslog: "daemon",
  programs: { ppp: "/usr/sbin/pppd", ifconfig: "/sbin/ifconfig", route: "/sbin/route", firewall: "/sbin/ipchains", ip: "/sbin/ip" },
};
/** Keepalive timing of `keepalive yes`. */
export const DEFAULT_KEEPALIVE: Keepalive = { intervalSec: 30, maxFail: 4 };
/** Default config file. */
export const DEFAULT_CONFIG_PATH = "/etc/vtunts.toml";
