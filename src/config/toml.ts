/**
 * Reads a vtunts TOML configuration (parsed with `smol-toml`) and checks it
 * strictly: unknown keys, wrong types, bad values and missing passwords are
 * errors that name the file, the line and the key (`file:line: table.key: …`).
 * Keys and values use vtund.conf's names and spellings; yes/no keys also take
 * TOML booleans.
 *
 *     [options]       port, bindaddr | bindiface, timeout, family (or ipv4 / ipv6 = true),
 *                     type ("stand" | "inetd"), syslog, ppp, ifconfig (ifcfg), route, firewall, ip
 *     [default]       any session key; inherited by every host, a host's own keys win
 *     [hosts.NAME]    passwd (password), type, proto, device, persist, keepalive, timeout,
 *                     encrypt, compress, speed, stat, multi, srcaddr, nat_hack (delay_udp),
 *                     sslauth, up, down, tcp_congestion (vtunts only)
 *
 * up/down entries: a string is a shell command that is waited for;
 * `{ ip = "…" }` (also ifconfig, ifcfg, route, firewall: waited; ppp: not
 * waited, then 10 s pause) runs the program named in [options];
 * `{ program = "/path", args = "…", wait = false, delay = 0 }` runs a program
 * (without `program`: `args` through /bin/sh -c), like vtund's `program`.
 *
 * Session `type` defaults to "tun" here (vtund.conf's default is "tty").
 */
import { parse, TomlError } from "smol-toml";
import { readFileSync } from "node:fs";
import {
  DEFAULT_KEEPALIVE,
  type Command,
  type Compression,
  type Config,
  type Options,
  type SessionConfig,
  type SourceAddress,
} from "./config.ts";
import { cipherNumber, LEGACY_CIPHER_NUMBER } from "./ciphers.ts";
import {
  CONGESTION_EXPECTED,
  ConfigError,
  defaultOptions,
  defaultSession,
  DEVICE_EXPECTED,
  isCongestionName,
  isDeviceName,
  isIpAddress,
  isSeconds,
  NAMED_COMMANDS,
  SESSION_NAME,
  SPEED_MAX,
  SYSLOG_FACILITIES,
  type NamedCommand,
} from "./common.ts";

export { ConfigError } from "./common.ts";

type Table = Record<string, unknown>;

const SESSION_KEYS = [
  "passwd", "password", "type", "proto", "device", "persist", "keepalive", "timeout", "encrypt", "compress",
  "speed", "stat", "multi", "srcaddr", "nat_hack", "delay_udp", "sslauth", "up", "down", "tcp_congestion",
] as const;
const OPTION_KEYS = [
  "port", "bindaddr", "bindiface", "timeout", "family", "ipv4", "ipv6", "type", "syslog",
  "ppp", "ifconfig", "ifcfg", "route", "firewall", "ip",
] as const;
/** Keys that mean the same thing; at most one of each group may be set in one table. */
const SESSION_ALIASES = [["passwd", "password"], ["nat_hack", "delay_udp"]] as const;
const OPTION_ALIASES = [["ifconfig", "ifcfg"], ["family", "ipv4", "ipv6"], ["bindaddr", "bindiface"]] as const;
const COMMAND_NAMES: Record<string, NamedCommand> = {
  ppp: "ppp", ifconfig: "ifconfig", ifcfg: "ifconfig", route: "route", firewall: "firewall", ip: "ip",
};
const PROGRAM_KEYS = ["program", "args", "wait", "delay"];
const SRCADDR_KEYS = ["addr", "iface", "port"];

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
      // `[table.key]`: the key written as a sub-table.
      if (key !== undefined && current === `${norm(table)}.${key}`) return i + 1;
      if (current === norm(table)) headerLine = i + 1;
      continue;
    }
    if (key !== undefined && current === norm(table)) {
      const k = /^("?)([A-Za-z0-9_-]+)\1\s*[.=]/.exec(line); // `key = …` or a dotted `key.sub = …`
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

type Fail = (table: string, key: string | undefined, message: string) => never;

/** A value with where it was written, for messages. */
interface Field {
  value: unknown;
  table: string;
  key: string;
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
  const fail: Fail = (table, key, message) => {
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
  checkKeys(defaults, "default", SESSION_KEYS, SESSION_ALIASES, fail);
  const hosts = asTable(doc.hosts, "hosts", fail);

  const sessions = new Map<string, SessionConfig>();
  for (const [name, value] of Object.entries(hosts)) {
    const where = `hosts.${name}`;
    if (!SESSION_NAME.test(name)) {
      fail(where, undefined, "session names are 1 to 42 letters, digits or . _ - + = @ ~ (no spaces or colons)");
    }
    const own = asTable(value, where, fail);
    checkKeys(own, where, SESSION_KEYS, SESSION_ALIASES, fail);
    sessions.set(name, readSession(name, own, where, defaults, options, fail));
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

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function asTable(value: unknown, where: string, fail: Fail): Table {
  if (value === undefined) return {};
  if (!isTable(value)) return fail(where, undefined, "must be a table");
  return value;
}

function checkKeys(
  t: Table,
  where: string,
  known: readonly string[],
  aliases: readonly (readonly string[])[],
  fail: Fail,
): void {
  for (const key of Object.keys(t)) {
    if (!known.includes(key)) fail(where, key, `unknown key (known: ${known.join(", ")})`);
  }
  for (const group of aliases) {
    const present = group.filter((k) => k in t);
    if (present.length > 1) fail(where, present[1], `set only one of ${group.join(", ")} (${present[0]} is set too)`);
  }
}

/** Fails with "must be EXPECTED, got VALUE" at the field. */
function bad(f: Field, expected: string, fail: Fail): never {
  return fail(f.table, f.key, `must be ${expected}, got ${JSON.stringify(f.value)}`);
}

function integerIn(f: Field, min: number, max: number, fail: Fail): number {
  const v = f.value;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    return bad(f, `an integer from ${min} to ${max}`, fail);
  }
  return v;
}

function seconds(f: Field, fail: Fail): number {
  if (typeof f.value !== "number" || !isSeconds(f.value)) bad(f, "a whole number of seconds from 1 to 86400", fail);
  return f.value as number;
}

function oneOf<T extends string>(f: Field, allowed: readonly T[], fail: Fail): T {
  const v = f.value;
  if (typeof v === "boolean" && (allowed as readonly string[]).includes(v ? "yes" : "no")) return (v ? "yes" : "no") as T;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    return bad(f, allowed.map((a) => `"${a}"`).join(" or "), fail);
  }
  return v as T;
}

function yesNo(f: Field, fail: Fail): boolean {
  return oneOf(f, ["yes", "no"] as const, fail) === "yes";
}

function absolutePath(f: Field, fail: Fail): string {
  const v = f.value;
  if (typeof v !== "string" || !/^\/[^\s\0]*$/.test(v)) return bad(f, "an absolute path", fail);
  return v;
}

function readOptions(t: Table, fail: Fail): Options {
  checkKeys(t, "options", OPTION_KEYS, OPTION_ALIASES, fail);
  const field = (key: string): Field | undefined => (key in t ? { value: t[key], table: "options", key } : undefined);
  const o = defaultOptions();
  let f: Field | undefined;
  if ((f = field("port"))) o.port = integerIn(f, 1, 65535, fail);
  if ((f = field("bindaddr"))) {
    if (typeof f.value !== "string" || !isIpAddress(f.value)) bad(f, "an IPv4 or IPv6 address", fail);
    o.bindaddr = f.value as string;
  }
  if ((f = field("bindiface"))) {
    if (typeof f.value !== "string" || !isDeviceName(f.value)) bad(f, DEVICE_EXPECTED, fail);
    o.bindiface = f.value as string;
  }
  if ((f = field("timeout"))) o.timeout = seconds(f, fail);
  if ((f = field("family"))) o.family = oneOf(f, ["ipv4", "ipv6"] as const, fail);
  for (const family of ["ipv4", "ipv6"] as const) {
    if ((f = field(family))) {
      if (typeof f.value !== "boolean") bad(f, "true or false", fail);
      o.family = f.value === (family === "ipv4") ? "ipv4" : "ipv6";
    }
  }
  if ((f = field("type"))) o.mode = oneOf(f, ["stand", "inetd"] as const, fail);
  if ((f = field("syslog"))) {
    if (typeof f.value !== "string" || !SYSLOG_FACILITIES.has(f.value)) {
      bad(f, `a syslog facility (${[...SYSLOG_FACILITIES.keys()].join(", ")})`, fail);
    }
    o.syslog = f.value as string;
  }
  for (const key of ["ppp", "ifconfig", "ifcfg", "route", "firewall", "ip"]) {
    if ((f = field(key))) o.programs[COMMAND_NAMES[key]!] = absolutePath(f, fail);
  }
  return o;
}

function readSession(name: string, own: Table, where: string, defaults: Table, options: Options, fail: Fail): SessionConfig {
  /** The first of `names` set in the host's own table, else in [default]. */
  const get = (...names: string[]): Field | undefined => {
    for (const [t, table] of [[own, where], [defaults, "default"]] as const) {
      for (const key of names) if (key in t) return { value: t[key], table, key };
    }
    return undefined;
  };
  const s = defaultSession(name, "tun");
  let f: Field | undefined;

  f = get("passwd", "password");
  if (f === undefined) fail(where, undefined, "no passwd: every session needs a password");
  if (typeof f.value !== "string" || f.value.length === 0) fail(f.table, f.key, "must be a non-empty string");
  s.passwd = f.value as string;

  if ((f = get("type"))) s.type = oneOf(f, ["tun", "ether", "tty", "pipe"] as const, fail);
  if ((f = get("proto"))) s.proto = oneOf(f, ["tcp", "udp"] as const, fail);
  if ((f = get("device"))) {
    if (typeof f.value !== "string" || !isDeviceName(f.value)) bad(f, DEVICE_EXPECTED, fail);
    s.device = f.value as string;
  }
  if ((f = get("persist"))) s.persist = oneOf(f, ["yes", "keep", "no"] as const, fail);
  if ((f = get("keepalive"))) s.keepalive = readKeepalive(f, fail);
  if ((f = get("timeout"))) s.timeout = seconds(f, fail);
  if ((f = get("encrypt"))) s.encrypt = readEncrypt(f, fail);
  if ((f = get("compress"))) s.compress = readCompress(f, fail);
  if ((f = get("speed"))) s.speed = readSpeed(f, fail);
  if ((f = get("stat"))) s.stat = yesNo(f, fail);
  if ((f = get("multi"))) {
    const m = oneOf(f, ["yes", "allow", "no", "deny", "killold"] as const, fail);
    s.multi = m === "yes" || m === "allow" ? "allow" : m === "killold" ? "killold" : "deny";
  }
  if ((f = get("srcaddr"))) s.srcaddr = readSrcaddr(f, fail);
  if ((f = get("nat_hack", "delay_udp"))) {
    const n = oneOf(f, ["client", "server", "no"] as const, fail);
    s.natHack = n === "no" ? null : n;
  }
  if ((f = get("tcp_congestion"))) {
    if (typeof f.value !== "string" || (f.value !== "system" && !isCongestionName(f.value))) bad(f, CONGESTION_EXPECTED, fail);
    s.tcpCongestion = f.value === "system" ? null : f.value as string;
  }
  if ((f = get("sslauth")) && !yesNo(f, fail)) {
    fail(f.table, f.key, `"no" is not supported: vtunts always uses vtund's Blowfish challenge response (sslauth yes)`);
  }
  if ((f = get("up"))) s.up = readCommands(f, options, fail);
  if ((f = get("down"))) s.down = readCommands(f, options, fail);
  return s;
}

function readKeepalive(f: Field, fail: Fail) {
  const v = f.value;
  if (v === "yes" || v === true) return { ...DEFAULT_KEEPALIVE };
  if (v === "no" || v === false) return null;
  const m = typeof v === "string" ? /^(\d+):(\d+)$/.exec(v) : null;
  const interval = m ? Number(m[1]) : 0;
  const count = m ? Number(m[2]) : 0;
  if (!m || interval < 1 || count < 1 || interval > 3600 || count > 1000) {
    bad(f, `"yes", "no" or "interval:count" (e.g. "30:4", interval 1..3600 s, count 1..1000)`, fail);
  }
  return { intervalSec: interval, maxFail: count };
}

const ENCRYPT_EXPECTED = `"yes", "no", a cipher name (blowfish128ecb, blowfish128cbc, … aes256ofb, oldblowfish128ecb) or its number (1..16, 999)`;

function readEncrypt(f: Field, fail: Fail): number | null {
  const v = f.value;
  if (v === "yes" || v === true) return 1;
  if (v === "no" || v === false || v === 0) return null;
  if (typeof v === "string" && cipherNumber(v) !== null) return cipherNumber(v);
  if (typeof v === "number" && Number.isInteger(v) && ((v >= 1 && v <= 16) || v === LEGACY_CIPHER_NUMBER)) return v;
  return bad(f, ENCRYPT_EXPECTED, fail);
}

function readCompress(f: Field, fail: Fail): Compression | null {
  const v = f.value;
  if (v === "yes" || v === true) return { method: "zlib", level: 1 };
  if (v === "no" || v === false || v === 0) return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 9) return { method: "zlib", level: v };
  if (v === "zlib" || v === "lzo") {
    return fail(f.table, f.key, `"${v}" needs a level: write "${v}:N" with N from 1 to 9 (vtund.conf's bare ${v} means zlib level ${v === "lzo" ? 2 : 1})`);
  }
  const m = typeof v === "string" ? /^(zlib|lzo):([1-9])$/.exec(v) : null;
  if (!m) return bad(f, `"yes", "no", "zlib:N" or "lzo:N" (N from 1 to 9), or a zlib level 1..9`, fail);
  return { method: m[1] as "zlib" | "lzo", level: Number(m[2]) };
}

function readSpeed(f: Field, fail: Fail): { toClient: number; toServer: number } | null {
  const v = f.value;
  let pair: [number, number] | null = null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) pair = [v, v];
  const m = typeof v === "string" ? /^(\d+)(?::(\d+))?$/.exec(v) : null;
  if (m) pair = [Number(m[1]), Number(m[2] ?? m[1])];
  if (pair === null || pair[0] > SPEED_MAX || pair[1] > SPEED_MAX) {
    return bad(f, `kbit/s: 0 (no shaping), N, or "A:B" (A to the client, B from the client)`, fail);
  }
  return pair[0] === 0 && pair[1] === 0 ? null : { toClient: pair[0], toServer: pair[1] };
}

function readSrcaddr(f: Field, fail: Fail): SourceAddress | null {
  const t = f.value;
  if (!isTable(t)) return bad(f, `a table like { addr = "192.0.2.1", port = 5001 } or { iface = "eth0" }`, fail);
  for (const key of Object.keys(t)) {
    if (!SRCADDR_KEYS.includes(key)) fail(f.table, f.key, `unknown key "${key}" (known: ${SRCADDR_KEYS.join(", ")})`);
  }
  if ("addr" in t && "iface" in t) fail(f.table, f.key, "set either addr or iface, not both");
  const a: SourceAddress = { addr: null, iface: null, port: null };
  if ("addr" in t) {
    if (typeof t.addr !== "string" || !isIpAddress(t.addr)) fail(f.table, f.key, `addr must be an IPv4 or IPv6 address, got ${JSON.stringify(t.addr)}`);
    a.addr = t.addr as string;
  }
  if ("iface" in t) {
    if (typeof t.iface !== "string" || !isDeviceName(t.iface)) fail(f.table, f.key, `iface must be ${DEVICE_EXPECTED}, got ${JSON.stringify(t.iface)}`);
    a.iface = t.iface as string;
  }
  if ("port" in t) {
    const p = t.port;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) fail(f.table, f.key, `port must be an integer from 1 to 65535, got ${JSON.stringify(p)}`);
    a.port = p as number;
  }
  return a.addr === null && a.iface === null && a.port === null ? null : a;
}

const COMMAND_EXPECTED =
  `a list of commands: "shell command", { ip = "…" } (or ifconfig, route, firewall, ppp), or { program = "/path", args = "…", wait = true }`;

function readCommands(f: Field, options: Options, fail: Fail): Command[] {
  if (!Array.isArray(f.value)) return bad(f, COMMAND_EXPECTED, fail);
  return f.value.map((entry: unknown, i) => {
    const entryFail = (message: string): never => fail(f.table, f.key, `entry ${i + 1}: ${message}`);
    if (typeof entry === "string") return { program: null, args: entry, wait: true, delayAfter: 0 };
    if (!isTable(entry)) return entryFail(`must be a string or a table, got ${JSON.stringify(entry)}`);
    const keys = Object.keys(entry);
    const named = keys.filter((k) => Object.hasOwn(COMMAND_NAMES, k));
    if (named.length > 0) {
      if (keys.length !== 1) return entryFail(`{ ${named[0]} = "…" } takes no other keys (got ${keys.join(", ")})`);
      const args = entry[named[0]!];
      if (typeof args !== "string") return entryFail(`${named[0]} must be a string of arguments, got ${JSON.stringify(args)}`);
      const which = COMMAND_NAMES[named[0]!]!;
      return { program: options.programs[which], args, ...NAMED_COMMANDS[which] };
    }
    for (const k of keys) {
      if (!PROGRAM_KEYS.includes(k)) entryFail(`unknown key "${k}" (known: ${[...PROGRAM_KEYS, ...Object.keys(COMMAND_NAMES)].join(", ")})`);
    }
    const { program, args, wait, delay } = entry;
    if (program !== undefined && (typeof program !== "string" || !/^\/[^\s\0]*$/.test(program))) {
      entryFail(`program must be an absolute path, got ${JSON.stringify(program)}`);
    }
    if (args !== undefined && typeof args !== "string") entryFail(`args must be a string, got ${JSON.stringify(args)}`);
    if (program === undefined && (args === undefined || args === "")) entryFail("needs program, or args for /bin/sh -c");
    if (wait !== undefined && typeof wait !== "boolean") entryFail(`wait must be true or false, got ${JSON.stringify(wait)}`);
    if (delay !== undefined && (typeof delay !== "number" || !Number.isInteger(delay) || delay < 0 || delay > 3600)) {
      entryFail(`delay must be a whole number of seconds from 0 to 3600, got ${JSON.stringify(delay)}`);
    }
    return {
      program: (program as string | undefined) ?? null,
      args: (args as string | undefined) ?? "",
      wait: (wait as boolean | undefined) ?? false,
      delayAfter: (delay as number | undefined) ?? 0,
    };
  });
}
