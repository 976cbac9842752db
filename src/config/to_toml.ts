/**
 * Writes a {@link Config} as vtunts TOML (what `vtunts convert` prints): every
 * option and every session key spelled out with vtund's names, so that
 * reading the output back with parseTomlConfig gives the same options and
 * sessions.
 */
import type { Command, Config, SessionConfig } from "./config.ts";
import { cipherName } from "./ciphers.ts";
import { NAMED_COMMANDS, type NamedCommand } from "./common.ts";

/** A TOML basic string (JSON's escapes are TOML's; DEL must be escaped too). */
export function tomlString(s: string): string {
  return JSON.stringify(s).replace(/\x7f/g, "\\u007f");
}

function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}

const yesNo = (b: boolean) => tomlString(b ? "yes" : "no");

/** Named forms tried, in this order, for a command that runs one of the [options] programs. */
const NAMED_ORDER: NamedCommand[] = ["ip", "ifconfig", "route", "firewall", "ppp"];

function command(c: Command, config: Config): string {
  if (c.program === null && c.wait && c.delayAfter === 0) return tomlString(c.args);
  for (const name of NAMED_ORDER) {
    const how = NAMED_COMMANDS[name];
    if (c.program === config.options.programs[name] && c.wait === how.wait && c.delayAfter === how.delayAfter) {
      return `{ ${name} = ${tomlString(c.args)} }`;
    }
  }
  const parts: string[] = [];
  if (c.program !== null) parts.push(`program = ${tomlString(c.program)}`);
  if (c.program === null || c.args !== "") parts.push(`args = ${tomlString(c.args)}`);
  parts.push(`wait = ${c.wait}`);
  if (c.delayAfter !== 0) parts.push(`delay = ${c.delayAfter}`);
  return `{ ${parts.join(", ")} }`;
}

function commands(list: Command[], config: Config): string {
  if (list.length === 0) return "[]";
  return `[\n${list.map((c) => `  ${command(c, config)},\n`).join("")}]`;
}

function session(s: SessionConfig, config: Config): string[] {
  const out = [`[hosts.${tomlKey(s.name)}]`, `passwd = ${tomlString(s.passwd)}`, `type = ${tomlString(s.type)}`, `proto = ${tomlString(s.proto)}`];
  if (s.device !== null) out.push(`device = ${tomlString(s.device)}`);
  out.push(`persist = ${tomlString(s.persist)}`);
  out.push(`keepalive = ${s.keepalive ? tomlString(`${s.keepalive.intervalSec}:${s.keepalive.maxFail}`) : yesNo(false)}`);
  out.push(`timeout = ${s.timeout}`);
  if (s.encrypt === null) out.push(`encrypt = ${yesNo(false)}`);
  else out.push(`encrypt = ${cipherName(s.encrypt) !== null ? tomlString(cipherName(s.encrypt)!) : s.encrypt}`);
  out.push(`compress = ${s.compress ? tomlString(`${s.compress.method}:${s.compress.level}`) : yesNo(false)}`);
  out.push(`speed = ${s.speed ? tomlString(`${s.speed.toClient}:${s.speed.toServer}`) : 0}`);
  out.push(`stat = ${yesNo(s.stat)}`);
  out.push(`multi = ${tomlString(s.multi)}`);
  if (s.srcaddr !== null) {
    const a = s.srcaddr;
    const parts: string[] = [];
    if (a.addr !== null) parts.push(`addr = ${tomlString(a.addr)}`);
    if (a.iface !== null) parts.push(`iface = ${tomlString(a.iface)}`);
    if (a.port !== null) parts.push(`port = ${a.port}`);
    out.push(`srcaddr = { ${parts.join(", ")} }`);
  }
  out.push(`nat_hack = ${tomlString(s.natHack ?? "no")}`);
  if (s.tcpCongestion !== null) out.push(`tcp_congestion = ${tomlString(s.tcpCongestion)}`);
  out.push(`up = ${commands(s.up, config)}`);
  out.push(`down = ${commands(s.down, config)}`);
  return out;
}

/** The TOML text of `config`. `warnings` (e.g. from reading a vtund.conf) become comments at the top. */
export function configToToml(config: Config): string {
  const o = config.options;
  const out = [`# vtunts configuration, converted from ${config.source} by \`vtunts convert\``];
  for (const w of config.warnings ?? []) out.push(`# warning: ${w}`);
  out.push("", "[options]", `port = ${o.port}`);
  if (o.bindiface !== null) out.push(`bindiface = ${tomlString(o.bindiface)}`);
  else out.push(`bindaddr = ${tomlString(o.bindaddr)}`);
  out.push(
    `timeout = ${o.timeout}`,
    `family = ${tomlString(o.family)}`,
    `type = ${tomlString(o.mode)}`,
    `syslog = ${tomlString(o.syslog)}`,
  );
  for (const name of ["ppp", "ifconfig", "route", "firewall", "ip"] as const) {
    out.push(`${name} = ${tomlString(o.programs[name])}`);
  }
  for (const s of config.sessions.values()) out.push("", ...session(s, config));
  return `${out.join("\n")}\n`;
}
