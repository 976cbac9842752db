/**
 * Reads a vtunts TOML configuration (parsed with `smol-toml`) and checks it
 * strictly: unknown keys, wrong types, bad values and missing passwords are
 * errors that name the file and line.
 *
 *     [options]            port, bindaddr, timeout
 *     [default]            inherited by every host
 *     [hosts.NAME]         passwd, type, proto, device, persist, keepalive, timeout, up, down
 */
import { parse, TomlError } from "smol-toml";
import { readFileSync } from "node:fs";
import { addressFamily } from "../transport/address.ts";
import { IFNAME_MAX } from "../device/tun.ts";
import {
  DEFAULT_KEEPALIVE,
  DEFAULT_OPTIONS,
  type Config,
  type Options,
  type SessionConfig,
} from "./config.ts";

/** A configuration error; the message reads `file:line: what is wrong`. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Table = Record<string, unknown>;

const SESSION_KEYS = ["passwd", "type", "proto", "device", "persist", "keepalive", "timeout", "up", "down"] as const;
const OPTION_KEYS = ["port", "bindaddr", "timeout"] as const;

/**
 * vtund keywords this version does not implement yet, with the values that
 * mean "off" (accepted, so a vtund-style file that spells out a default works).
 * Anything else is refused: never silently run without encryption a user asked for.
 */
const NOT_YET: Record<string, readonly unknown[]> = {
  encrypt: ["no", false],
  compress: ["no", false],
  speed: [0, "0"],
  multi: ["yes", "allow", true],
  stat: ["no", false],
  nat_hack: ["no", false],
  delay_udp: ["no", false],
  srcaddr: [],
  sslauth: ["yes", true],
};
const NOT_YET_OPTIONS = ["ppp", "ifconfig", "route", "firewall", "ip", "syslog", "type", "ipv4", "ipv6"];

/** Session names go into a 50-byte `HOST: name\n` record; vtund splits on spaces and colons. */
const SESSION_NAME = /^[A-Za-z0-9_.+=@~-]{1,42}$/;

/** Finds the 1-based line of `key` inside table `[table]` (or of the table header). */
function lineOf(source: string, table: string, key?: string): number | null {
  const lines = source.split("\n");
  let current = "";
  let headerLine: number | null = null;
  const norm = (s: string) => s.replace(/\s+/g, "").replace(/"/g, "");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      current = norm(header[1]!).replace(/^\[/, ""); // `[[name]]` as well as `[name]`
      // A top-level name (table "") may be the first part of a table header: `[name]`, `[name.x]`.
      if (key !== undefined && table === "" && current.split(".")[0] === key) return i + 1;
      if (current === norm(table)) headerLine = i + 1;
      continue;
    }
    if (key !== undefined && current === norm(table)) {
      const k = /^("?)([A-Za-z0-9_-]+)\1\s*=/.exec(line);
      if (k && k[2] === key) return i + 1;
    }
  }
  if (headerLine === null && key === undefined && table !== "") {
    // Not a `[table]` header: maybe `name = value` in the parent table (`options = 3`).
    const dot = table.lastIndexOf(".");
    return lineOf(source, dot < 0 ? "" : table.slice(0, dot), table.slice(dot + 1));
  }
  return headerLine;
}

/** Parses and validates TOML text. `source` names it in messages (usually the file path). */
export function parseTomlConfig(text: string, source: string): Config {
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      throw new ConfigError(`${source}:${e.line}:${e.column}: ${e.message.split("\n")[0]}`);
    }
    throw e;
  }
  const fail = (table: string, key: string | undefined, message: string): never => {
    const line = lineOf(text, table, key);
    const where = key === undefined ? table : table ? `${table}.${key}` : key;
    throw new ConfigError(`${source}${line ? `:${line}` : ""}: ${where}: ${message}`);
  };

  for (const top of Object.keys(doc)) {
    if (!["options", "default", "hosts"].includes(top)) {
      fail("", top, `unknown section (expected [options], [default] or [hosts.NAME])`);
    }
  }
  const options = readOptions(asTable(doc.options, "options", fail), fail);
  const defaults = asTable(doc.default, "default", fail);
  checkSessionKeys(defaults, "default", fail);
  const hosts = asTable(doc.hosts, "hosts", fail);

  const sessions = new Map<string, SessionConfig>();
  for (const [name, value] of Object.entries(hosts)) {
    const where = `hosts.${name}`;
    if (!SESSION_NAME.test(name)) {
      fail(where, undefined, "session names are 1 to 42 letters, digits or . _ - + = @ ~ (no spaces or colons)");
    }
    const own = asTable(value, where, fail);
    checkSessionKeys(own, where, fail);
    sessions.set(name, readSession(name, { ...defaults, ...own }, own, where, fail));
  }
  return { source, options, sessions };
}

/** Reads and validates a TOML configuration file. */
export function loadTomlConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    throw new ConfigError(`${path}: cannot read the configuration file: ${code}`);
  }
  return parseTomlConfig(text, path);
}

type Fail = (table: string, key: string | undefined, message: string) => never;

function asTable(value: unknown, where: string, fail: Fail): Table {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(where, undefined, "must be a table");
  }
  return value as Table;
}

function readOptions(t: Table, fail: Fail): Options {
  for (const key of Object.keys(t)) {
    if (NOT_YET_OPTIONS.includes(key)) fail("options", key, "not supported by this version of vtunts yet");
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      fail("options", key, `unknown option (known: ${OPTION_KEYS.join(", ")})`);
    }
  }
  const port = t.port ?? DEFAULT_OPTIONS.port;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    fail("options", "port", `must be an integer from 1 to 65535, got ${JSON.stringify(port)}`);
  }
  const bindaddr = t.bindaddr ?? DEFAULT_OPTIONS.bindaddr;
  if (typeof bindaddr !== "string" || addressFamily(bindaddr) === null) {
    fail("options", "bindaddr", `must be an IPv4 or IPv6 address, got ${JSON.stringify(bindaddr)}`);
  }
  const timeout = readSeconds(t.timeout ?? DEFAULT_OPTIONS.timeout, "options", "timeout", fail);
  return { port: port as number, bindaddr: bindaddr as string, timeout };
}

function checkSessionKeys(t: Table, where: string, fail: Fail): void {
  for (const [key, value] of Object.entries(t)) {
    if (key in NOT_YET) {
      if (NOT_YET[key]!.includes(value)) continue;
      fail(where, key, `${JSON.stringify(value)} is not supported by this version of vtunts yet`);
    }
    if (!(SESSION_KEYS as readonly string[]).includes(key)) {
      fail(where, key, `unknown key (known: ${SESSION_KEYS.join(", ")})`);
    }
  }
}

function readSeconds(value: unknown, table: string, key: string, fail: Fail): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 86400) {
    fail(table, key, `must be a whole number of seconds from 1 to 86400, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], table: string, key: string, fail: Fail): T {
  if (typeof value === "boolean" && (allowed as readonly string[]).includes(value ? "yes" : "no")) {
    return (value ? "yes" : "no") as T;
  }
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    return fail(table, key, `must be ${allowed.map((a) => `"${a}"`).join(" or ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function commands(value: unknown, table: string, key: string, fail: Fail): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((c) => typeof c === "string")) {
    return fail(table, key, "must be a list of command strings, e.g. [\"ip link set %% up\"]");
  }
  return value as string[];
}

/** Where a merged key came from: the host's own table, or [default]. */
function origin(own: Table, where: string, key: string): string {
  return key in own ? where : "default";
}

function readSession(name: string, t: Table, own: Table, where: string, fail: Fail): SessionConfig {
  const at = (key: string) => origin(own, where, key);
  const passwd = t.passwd;
  if (passwd === undefined) fail(where, undefined, "no passwd: every session needs a password");
  if (typeof passwd !== "string" || passwd.length === 0) fail(at("passwd"), "passwd", "must be a non-empty string");

  const type = oneOf(t.type ?? "tun", ["tun", "ether", "tty", "pipe"] as const, at("type"), "type", fail);
  if (type !== "tun") fail(at("type"), "type", `"${type}" is not supported by this version of vtunts yet (only "tun")`);
  const proto = oneOf(t.proto ?? "tcp", ["tcp", "udp"] as const, at("proto"), "proto", fail);

  let device: string | null = null;
  if (t.device !== undefined) {
    const d = t.device;
    if (typeof d !== "string" || !/^[A-Za-z0-9_.%-]+$/.test(d) || new TextEncoder().encode(d).length > IFNAME_MAX) {
      fail(at("device"), "device", `must be an interface name of 1 to ${IFNAME_MAX} characters, got ${JSON.stringify(d)}`);
    }
    device = d as string;
  }

  const persist = oneOf(t.persist ?? "no", ["yes", "keep", "no"] as const, at("persist"), "persist", fail);

  let keepalive = null;
  const ka = t.keepalive ?? "no";
  if (ka === "yes" || ka === true) keepalive = { ...DEFAULT_KEEPALIVE };
  else if (ka === "no" || ka === false) keepalive = null;
  else {
    const m = typeof ka === "string" ? /^(\d+):(\d+)$/.exec(ka) : null;
    const interval = m ? Number(m[1]) : 0;
    const count = m ? Number(m[2]) : 0;
    if (!m || interval < 1 || count < 1 || interval > 3600 || count > 1000) {
      fail(at("keepalive"), "keepalive", `must be "yes", "no" or "interval:count" (e.g. "30:4"), got ${JSON.stringify(ka)}`);
    }
    keepalive = { intervalSec: interval, maxFail: count };
  }

  return {
    name,
    passwd: passwd as string,
    type,
    proto,
    device,
    persist,
    keepalive,
    timeout: readSeconds(t.timeout ?? 30, at("timeout"), "timeout", fail),
    up: commands(t.up, at("up"), "up", fail),
    down: commands(t.down, at("down"), "down", fail),
  };
}
