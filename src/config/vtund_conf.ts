/**
 * Reads a classic vtund.conf file (vtund 3.0.x syntax, vtund.conf(5)) into
 * the same {@link Config} the TOML reader produces.
 *
 *     options { port 5000; bindaddr { iface eth0; }; ip /sbin/ip; }
 *     default { compress no; keepalive yes; }
 *     cobra {
 *       passwd Ma&^TU; type tun; proto udp; encrypt aes128cbc; compress lzo:9;
 *       up { ip "link set %d up"; program /bin/sh "-c 'echo up'" wait; };
 *     }
 *
 * It follows vtund's lexer and grammar (cfg_file.l / cfg_file.y), with these
 * deliberate differences, all friendlier and none changing a file vtund reads:
 *
 * - Quoted strings end at the *next* `"` on the line (vtund's end at the last
 *   one, merging `ip "a"; ip "b";` on one line into one bogus argument).
 * - Keywords may be abbreviated to a unique prefix of at least 4 letters
 *   (`comp lzo:9;`), as the vtund.conf man page promises but vtund 3.0.x does
 *   not do. Section names (`options`, `default`) must be written out.
 * - `passwd` also takes a quoted string, a number or a word like `yes` (vtund
 *   refuses those); addresses may be quoted (needed for IPv6 ones).
 * - The `;` after a nested block (`up { … };`) or a section is optional.
 * - Values vtund would silently turn into nonsense (`compress tun;`,
 *   `encrypt 42;`, `nat_hack yes;`, a stray character) are errors.
 *
 * vtund behaviour that is kept: a session starts as a copy of the `default`
 * section as it stands at that point (up/down lists and srcaddr included,
 * passwd not); `compress lzo;` / `compress zlib;` without a level mean zlib
 * level 2 / 1, a bare number N means zlib level N; `keepalive yes` keeps the
 * interval:count set earlier (default 30:4); `ip "…"`, `ppp "…"` etc. use the
 * program path set in `options` *before* that line; `port`, `timeout` and
 * `type` in `options`: the first setting wins; a session without `passwd` is
 * ignored, and of two sessions with one name the first is used (warnings);
 * `#` starts a comment only where a keyword may start (`passwd a#b;` is a
 * password with a `#`); the default session type is `tty`.
 */
import { readFileSync } from "node:fs";
import { nodeZlib } from "../runtime/builtin.ts";
import {
  DEFAULT_KEEPALIVE,
  type Command,
  type Compression,
  type Config,
  type Options,
  type SessionConfig,
} from "./config.ts";
import { cipherNumber, LEGACY_CIPHER_NUMBER } from "./ciphers.ts";
import {
  ConfigError,
  defaultOptions,
  defaultSession,
  DEFAULT_BINDADDR,
  DEVICE_EXPECTED,
  isDeviceName,
  isIpAddress,
  NAMED_COMMANDS,
  SESSION_NAME_MAX,
  SPEED_MAX,
  SYSLOG_FACILITIES,
  type NamedCommand,
} from "./common.ts";

// ---------------------------------------------------------------- lexer

type TokenKind = "word" | "path" | "string" | "{" | "}" | ";" | "eof";

/** A token: a word (also numbers, `N:M`, `word:N`), a PATH, a "STRING" (quotes stripped), a brace or `;`. */
interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

/** vtund's WORD characters, plus `:` (so `30:4`, `lzo:9` and IPv6 addresses are one token). */
const WORD_CHAR = /[A-Za-z0-9\-_+=!$#%&*^@\\~.:]/;
const PATH = /^(?:\/[A-Za-z0-9_.-]+)+/;
/** vtund's string buffer: at most 254 bytes including the two quotes. */
const STRING_MAX = 252;

class Lexer {
  private pos = 0;
  private line = 1;
  /** The keyword being read, named in lexical errors. */
  context: string | null = null;

  constructor(
    private readonly text: string,
    private readonly fail: (line: number, where: string | null, message: string) => never,
  ) {}

  /** The next token. `value`: reading a keyword's values, where `#` is a word character, not a comment. */
  next(value: boolean): Token {
    const t = this.text;
    for (;;) {
      const c = t[this.pos];
      if (c === undefined) return { kind: "eof", text: "end of file", line: this.line };
      if (c === "\n") {
        this.line++;
        this.pos++;
      } else if (c === " " || c === "\t" || c === "\r") {
        this.pos++;
      } else if (c === "#" && !value) {
        while (this.pos < t.length && t[this.pos] !== "\n") this.pos++;
      } else {
        break;
      }
    }
    const line = this.line;
    const c = t[this.pos]!;
    if (c === "{" || c === "}" || c === ";") {
      this.pos++;
      return { kind: c, text: c, line };
    }
    if (c === '"') {
      const end = t.indexOf('"', this.pos + 1);
      const eol = t.indexOf("\n", this.pos + 1);
      if (end < 0 || (eol >= 0 && eol < end)) this.fail(line, this.context, `unterminated string (no closing '"' on this line)`);
      const s = t.slice(this.pos + 1, end);
      if (new TextEncoder().encode(s).length > STRING_MAX) {
        this.fail(line, this.context, `string longer than ${STRING_MAX} bytes (vtund's limit)`);
      }
      this.pos = end + 1;
      return { kind: "string", text: s, line };
    }
    if (c === "/" && value) {
      const m = PATH.exec(t.slice(this.pos, this.pos + 4096));
      if (m && !WORD_CHAR.test(t[this.pos + m[0].length] ?? " ")) {
        this.pos += m[0].length;
        return { kind: "path", text: m[0], line };
      }
    }
    if (WORD_CHAR.test(c)) {
      const start = this.pos;
      while (this.pos < t.length && WORD_CHAR.test(t[this.pos]!)) this.pos++;
      return { kind: "word", text: t.slice(start, this.pos), line };
    }
    const hint = c === "/" && !value ? " (a path is only allowed as a value)" : "";
    return this.fail(line, this.context, `invalid character '${JSON.stringify(c).slice(1, -1)}'${hint}`);
  }

  /** The next token without consuming it. */
  peek(value: boolean): Token {
    const [pos, line] = [this.pos, this.line];
    try {
      return this.next(value);
    } finally {
      [this.pos, this.line] = [pos, line];
    }
  }
}

// ---------------------------------------------------------------- keywords

/** vtund's keywords (cfg_kwords.h plus Debian's ipv4, ipv6, sslauth), with the one each stands for. */
const KEYWORDS: ReadonlyMap<string, string> = new Map(Object.entries({
  options: "options", default: "default", up: "up", down: "down", ipv4: "ipv4", ipv6: "ipv6",
  port: "port", srcaddr: "srcaddr", addr: "addr", iface: "iface", bindaddr: "bindaddr", sslauth: "sslauth",
  persist: "persist", multi: "multi", timeout: "timeout", passwd: "passwd", password: "passwd",
  program: "program", speed: "speed", compress: "compress", encrypt: "encrypt", type: "type", proto: "proto",
  nat_hack: "nat_hack", delay_udp: "nat_hack", device: "device", ppp: "ppp", ifconfig: "ifconfig",
  ifcfg: "ifconfig", firewall: "firewall", route: "route", ip: "ip", keepalive: "keepalive", stat: "stat",
  syslog: "syslog",
}));
const ABBREVIATION_MIN = 4;

/** The keyword `word` stands for: exact, or a unique prefix of at least 4 letters; null if none. */
export function resolveKeyword(word: string): string | null {
  const exact = KEYWORDS.get(word);
  if (exact !== undefined) return exact;
  if (word.length < ABBREVIATION_MIN) return null;
  const meanings = new Set([...KEYWORDS].filter(([k]) => k.startsWith(word)).map(([, meaning]) => meaning));
  return meanings.size === 1 ? [...meanings][0]! : null;
}

const OPTION_KEYWORDS = ["port", "bindaddr", "type", "timeout", "ppp", "ifconfig", "route", "firewall", "ip", "syslog", "ipv4", "ipv6"];
const SESSION_KEYWORDS = [
  "passwd", "type", "proto", "device", "persist", "keepalive", "timeout", "encrypt", "compress", "speed", "stat",
  "multi", "srcaddr", "nat_hack", "sslauth", "up", "down",
];
const COMMAND_KEYWORDS = ["program", "ppp", "ifconfig", "route", "firewall", "ip"];

// ---------------------------------------------------------------- values

const YES = new Set(["yes", "enable", "allow"]);
const NO = new Set(["no", "disable", "deny"]);
const isNum = (text: string) => /^\d+$/.test(text);

/** vtund's yes/no words (yes enable allow / no disable deny) and numbers (0 = no); null if neither. */
function boolOf(tok: Token): boolean | null {
  if (tok.kind !== "word") return null;
  if (YES.has(tok.text)) return true;
  if (NO.has(tok.text)) return false;
  if (isNum(tok.text)) return Number(tok.text) !== 0;
  return null;
}

/** The mutable state of a session (or of `default`) while its section is read. */
interface SessionState {
  config: SessionConfig;
  passwd: string | null;
  /** vtund keeps the keepalive timing apart from its on/off flag. */
  keepaliveOn: boolean;
  keepalive: { intervalSec: number; maxFail: number };
  srcaddr: { addr: string | null; iface: string | null; port: number | null };
}

function newState(): SessionState {
  return {
    config: defaultSession("default", "tty"),
    passwd: null,
    keepaliveOn: false,
    keepalive: { ...DEFAULT_KEEPALIVE },
    srcaddr: { addr: null, iface: null, port: null },
  };
}

/** A session's copy of `default` (vtund: memcpy + copies of the lists; passwd is not inherited). */
function copyState(from: SessionState, name: string): SessionState {
  const c = from.config;
  return {
    config: {
      ...c,
      name,
      up: c.up.map((cmd) => ({ ...cmd })),
      down: c.down.map((cmd) => ({ ...cmd })),
      speed: c.speed && { ...c.speed },
      compress: c.compress && { ...c.compress },
    },
    passwd: null,
    keepaliveOn: from.keepaliveOn,
    keepalive: { ...from.keepalive },
    srcaddr: { ...from.srcaddr },
  };
}

function finish(state: SessionState): SessionConfig {
  const { addr, iface, port } = state.srcaddr;
  return {
    ...state.config,
    passwd: state.passwd ?? "",
    keepalive: state.keepaliveOn ? { ...state.keepalive } : null,
    srcaddr: addr === null && iface === null && port === null ? null : { addr, iface, port },
  };
}

// ---------------------------------------------------------------- parser

/** A keyword with its values, up to its `;`. */
interface Statement {
  /** The keyword as written (named in messages). */
  word: string;
  /** The keyword it stands for. */
  keyword: string;
  line: number;
  values: Token[];
  /** When the values run onto a later line: the line before that break (where a `;` may be missing). */
  lineBreakAfter: number | null;
}

/** Parses vtund.conf text. `source` names it in messages (usually the file path). */
export function parseVtundConf(text: string, source: string): Config {
  return new Parser(text, source).parse();
}

/** Reads a vtund.conf file (gzip-compressed if it ends in .gz). */
export function loadVtundConf(path: string): Config {
  let text: string;
  try {
    const bytes = readFileSync(path);
    text = (path.endsWith(".gz") ? nodeZlib().gunzipSync(bytes) : bytes).toString("utf8");
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    throw new ConfigError(`${path}: cannot read the configuration file: ${code}`);
  }
  return parseVtundConf(text, path);
}

class Parser {
  private readonly lex: Lexer;
  private readonly options: Options = defaultOptions();
  /** Lines where `port`, `timeout`, `type` were first set (vtund keeps the first). */
  private readonly firstSet = new Map<string, number>();
  private readonly defaults = newState();
  private readonly sessions = new Map<string, SessionConfig>();
  private readonly sessionLines = new Map<string, number>();
  private readonly warnings: string[] = [];

  constructor(
    text: string,
    private readonly source: string,
  ) {
    this.lex = new Lexer(text, (line, where, message) => this.fail(line, where, message));
  }

  private fail(line: number, where: string | null, message: string): never {
    throw new ConfigError(`${this.source}:${line}: ${where === null ? "" : `${where}: `}${message}`);
  }

  private warn(line: number, where: string, message: string): void {
    this.warnings.push(`${this.source}:${line}: ${where}: ${message}`);
  }

  parse(): Config {
    for (;;) {
      const tok = this.lex.next(false);
      if (tok.kind === "eof") break;
      if (tok.kind === ";") continue; // vtund only complains about a stray ';'
      if (tok.kind !== "word") this.fail(tok.line, null, `expected a section name (options, default or a session name), got '${tok.text}'`);
      const name = tok.text;
      if (name !== "options" && name !== "default") {
        if (KEYWORDS.has(name)) {
          this.fail(tok.line, name, `a keyword cannot start a section here (sections: options, default or a session name)`);
        }
        if (!/^[A-Za-z0-9_-]+$/.test(name) || name.length > SESSION_NAME_MAX) {
          this.fail(tok.line, name, `invalid session name (1 to ${SESSION_NAME_MAX} letters, digits, _ or -)`);
        }
      }
      const open = this.lex.next(false);
      if (open.kind !== "{") this.fail(tok.line, name, `expected '{' after the section name, got '${open.text}'`);
      if (name === "options") {
        this.block(tok, "options", (st) => this.option(st));
      } else if (name === "default") {
        this.block(tok, "default", (st) => this.sessionOption(st, this.defaults, "default"));
      } else {
        this.session(tok);
      }
    }
    const config: Config = { source: this.source, options: this.options, sessions: this.sessions };
    if (this.warnings.length > 0) config.warnings = this.warnings;
    return config;
  }

  private session(nameTok: Token): void {
    const name = nameTok.text;
    const state = copyState(this.defaults, name);
    this.block(nameTok, `session "${name}"`, (st) => this.sessionOption(st, state, name));
    if (state.passwd === null) {
      this.warn(nameTok.line, name, "ignored incomplete session definition (no passwd)");
    } else if (this.sessions.has(name)) {
      this.warn(nameTok.line, name, `defined again; the first definition (line ${this.sessionLines.get(name)}) is used, as in vtund`);
    } else {
      this.sessions.set(name, finish(state));
      this.sessionLines.set(name, nameTok.line);
    }
  }

  /**
   * Reads statements up to the `}` that closes the block opened after `opener`
   * (its `{` already read), handing each to `handle`.
   */
  private block(opener: Token, what: string, handle: (st: Statement) => void): void {
    const nested = what === "up" || what === "down" || what === "bindaddr" || what === "srcaddr";
    for (;;) {
      this.lex.context = null;
      const tok = this.lex.next(false);
      if (tok.kind === "}") break;
      if (tok.kind === "eof") this.fail(opener.line, opener.text, `no closing '}' for the '{' on this line`);
      if (tok.kind === ";") continue;
      if (tok.kind !== "word") this.fail(tok.line, null, `expected a keyword in ${what}, got '${tok.text}'`);
      const keyword = resolveKeyword(tok.text);
      if (keyword === null || keyword === "options" || keyword === "default") {
        const missing = !nested && this.lex.peek(false).kind === "{"
          ? ` (is the '}' of ${what}, opened on line ${opener.line}, missing?)`
          : "";
        this.fail(tok.line, tok.text, `${keyword === null ? "unknown keyword" : "a section cannot start inside another one"}${missing}`);
      }
      const st = this.statement(tok, keyword);
      try {
        handle(st);
      } catch (e) {
        // `port 5000` + newline + `timeout 9;` reads as port with three values: say what is really wrong.
        if (st.lineBreakAfter !== null && e instanceof ConfigError) this.missingSemicolon(st.lineBreakAfter, st.word);
        throw e;
      }
    }
    if (nested && this.lex.peek(false).kind === ";") this.lex.next(false);
  }

  /** Reads the values of keyword `tok` up to its `;` (block keywords: up to their `{`). */
  private statement(tok: Token, keyword: string): Statement {
    this.lex.context = tok.text;
    const values: Token[] = [];
    let end: Token;
    for (;;) {
      end = this.lex.next(true);
      if (end.kind === ";" || end.kind === "{" || end.kind === "}" || end.kind === "eof") break;
      values.push(end);
    }
    const all = [tok, ...values];
    const breakAt = all.findIndex((t, i) => i > 0 && t.line !== all[i - 1]!.line);
    const lineBreakAfter = breakAt < 0 ? null : all[breakAt - 1]!.line;
    const st: Statement = { word: tok.text, keyword, line: tok.line, values, lineBreakAfter };
    const missingSemicolon = (): never => this.missingSemicolon(lineBreakAfter ?? all[all.length - 1]!.line, tok.text);
    const isBlock = keyword === "up" || keyword === "down" || keyword === "srcaddr" || keyword === "bindaddr";
    if (isBlock) {
      if (end.kind === "{" && values.length === 0) return st;
      if (breakAt >= 0 || end.kind === "{") missingSemicolon();
      this.fail(tok.line, tok.text, `expected '{' after ${tok.text}`);
    }
    if (end.kind === "{") {
      if (breakAt >= 0) missingSemicolon();
      this.fail(end.line, tok.text, "unexpected '{' (this keyword takes no block)");
    }
    if (end.kind !== ";") missingSemicolon();
    return st;
  }

  private missingSemicolon(line: number, word: string): never {
    return this.fail(line, word, "missing ';' at the end of the statement");
  }

  // ---- helpers for values

  private bad(st: Statement, expected: string): never {
    const got = st.values.length === 0 ? "nothing" : `"${st.values.map((v) => v.text).join(" ")}"`;
    return this.fail(st.line, st.word, `expected ${expected}, got ${got}`);
  }

  /** The single value of `st`, or an error naming `expected`. */
  private one(st: Statement, expected: string): Token {
    if (st.values.length !== 1) this.bad(st, expected);
    return st.values[0]!;
  }

  /** One word from `allowed` (plus, through `map`, the yes/no words and numbers vtund accepts). */
  private choice<T>(st: Statement, expected: string, map: (tok: Token) => T | undefined): T {
    const tok = this.one(st, expected);
    const v = map(tok);
    if (v === undefined) this.bad(st, expected);
    return v as T;
  }

  private number(st: Statement, min: number, max: number, what = `a number from ${min} to ${max}`): number {
    const tok = this.one(st, what);
    if (tok.kind !== "word" || !isNum(tok.text) || Number(tok.text) < min || Number(tok.text) > max) this.bad(st, what);
    return Number(tok.text);
  }

  private path(st: Statement): string {
    const tok = this.one(st, "a path like /sbin/ip");
    if (tok.kind !== "path") this.bad(st, "a path like /sbin/ip");
    return tok.text;
  }

  private wordOrString(st: Statement, expected: string): string {
    const tok = this.one(st, expected);
    if (tok.kind !== "word" && tok.kind !== "string") this.bad(st, expected);
    return tok.text;
  }

  private nestedBlock(st: Statement, handle: (inner: Statement) => void): void {
    this.block({ kind: "word", text: st.word, line: st.line }, st.keyword, handle);
  }

  // ---- options { }

  private option(st: Statement): void {
    const o = this.options;
    if (!OPTION_KEYWORDS.includes(st.keyword)) {
      this.fail(st.line, st.word, `not allowed in options (allowed: ${OPTION_KEYWORDS.join(", ")})`);
    }
    switch (st.keyword) {
      case "port":
        return this.firstWins(st, "port", this.number(st, 1, 65535, "a port number from 1 to 65535"), (v) => (o.port = v), o.port);
      case "timeout":
        return this.firstWins(st, "timeout", this.number(st, 1, 86400, "a number of seconds from 1 to 86400"), (v) => (o.timeout = v), o.timeout);
      case "type": {
        const mode = this.choice(st, "stand or inetd", (t) =>
          t.text === "stand" || t.text === "0" ? "stand" as const : t.text === "inetd" || t.text === "1" ? "inetd" as const : undefined);
        return this.firstWins(st, "type", mode, (v) => (o.mode = v), o.mode);
      }
      case "ppp":
      case "ifconfig":
      case "route":
      case "firewall":
      case "ip":
        o.programs[st.keyword] = this.path(st);
        return;
      case "syslog": {
        const expected = `a syslog facility (${[...SYSLOG_FACILITIES.keys()].join(", ")}) or its number`;
        o.syslog = this.choice(st, expected, (t) => {
          if (t.kind !== "word") return undefined;
          if (SYSLOG_FACILITIES.has(t.text)) return t.text;
          const byCode = [...SYSLOG_FACILITIES].find(([, code]) => isNum(t.text) && code === Number(t.text));
          return byCode?.[0];
        });
        return;
      }
      case "ipv4":
      case "ipv6":
        if (st.values.length > 0) this.bad(st, `nothing (write "${st.keyword};")`);
        o.family = st.keyword;
        return;
      case "bindaddr":
        return this.nestedBlock(st, (inner) => {
          if (inner.keyword === "addr") {
            const addr = this.wordOrString(inner, "an IPv4 or IPv6 address");
            if (!isIpAddress(addr)) this.bad(inner, "an IPv4 or IPv6 address (vtunts does not look up host names here)");
            o.bindaddr = addr;
            o.bindiface = null;
          } else if (inner.keyword === "iface") {
            const iface = this.wordOrString(inner, DEVICE_EXPECTED);
            if (!isDeviceName(iface)) this.bad(inner, DEVICE_EXPECTED);
            o.bindiface = iface;
            o.bindaddr = DEFAULT_BINDADDR;
          } else {
            this.fail(inner.line, inner.word, "not allowed in bindaddr (allowed: addr, iface)");
          }
        });
    }
  }

  /** vtund keeps the first `port`, `timeout` and `type` of `options` (the command line may have set them). */
  private firstWins<T>(st: Statement, key: string, value: T, set: (v: T) => void, current: T): void {
    const first = this.firstSet.get(key);
    if (first === undefined) {
      this.firstSet.set(key, st.line);
      set(value);
    } else if (value !== current) {
      this.warn(st.line, st.word, `ignored: vtund keeps the first setting (line ${first})`);
    }
  }

  // ---- default { } and sessions

  private sessionOption(st: Statement, state: SessionState, section: string): void {
    const s = state.config;
    if (!SESSION_KEYWORDS.includes(st.keyword)) {
      const where = OPTION_KEYWORDS.includes(st.keyword) ? " (it belongs in options)" : COMMAND_KEYWORDS.includes(st.keyword) ? " (it belongs in an up or down block)" : "";
      this.fail(st.line, st.word, `not allowed in a session${where}`);
    }
    switch (st.keyword) {
      case "passwd": {
        const tok = this.one(st, "a password");
        if (tok.kind === "path" || tok.text === "") this.bad(st, "a password");
        state.passwd = tok.text;
        if (section === "default") this.warn(st.line, st.word, "a passwd in default is not inherited by sessions (as in vtund)");
        return;
      }
      case "type":
        s.type = this.choice(st, "tun, ether, tty or pipe", (t) =>
          t.text === "tun" || t.text === "ether" || t.text === "tty" || t.text === "pipe" ? t.text : undefined);
        return;
      case "proto":
        s.proto = this.choice(st, "tcp or udp", (t) => (t.text === "tcp" || t.text === "udp" ? t.text : undefined));
        return;
      case "device": {
        const tok = this.one(st, DEVICE_EXPECTED);
        if (tok.kind !== "word" || !isDeviceName(tok.text)) this.bad(st, DEVICE_EXPECTED);
        s.device = tok.text;
        return;
      }
      case "persist":
        s.persist = this.choice(st, "yes, no or keep", (t) => {
          if (t.text === "keep" || t.text === "2") return "keep" as const;
          const b = isNum(t.text) && Number(t.text) > 1 ? null : boolOf(t);
          return b === null ? undefined : b ? "yes" as const : "no" as const;
        });
        return;
      case "multi":
        s.multi = this.choice(st, "yes (allow), no (deny) or killold", (t) => {
          if (t.text === "killold" || t.text === "2") return "killold" as const;
          const b = isNum(t.text) && Number(t.text) > 1 ? null : boolOf(t);
          return b === null ? undefined : b ? "allow" as const : "deny" as const;
        });
        return;
      case "timeout":
        s.timeout = this.number(st, 1, 86400, "a number of seconds from 1 to 86400");
        return;
      case "stat":
        s.stat = this.choice(st, "yes or no", (t) => boolOf(t) ?? undefined);
        return;
      case "sslauth":
        if (!this.choice(st, "yes or no", (t) => boolOf(t) ?? undefined)) {
          this.fail(st.line, st.word, "no is not supported: vtunts always uses vtund's Blowfish challenge response (sslauth yes)");
        }
        return;
      case "nat_hack":
        s.natHack = this.choice(st, "client, server or no", (t) => {
          if (t.text === "client" || t.text === "server") return t.text;
          return boolOf(t) === false ? null : undefined;
        });
        return;
      case "encrypt":
        s.encrypt = this.choice(st, "yes, no, a cipher name (blowfish128ecb … aes256ofb, oldblowfish128ecb) or its number", (t) => {
          if (t.kind !== "word") return undefined;
          const cipher = cipherNumber(t.text);
          if (cipher !== null) return cipher;
          if (isNum(t.text)) {
            const n = Number(t.text);
            return n === 0 ? null : (n >= 1 && n <= 16) || n === LEGACY_CIPHER_NUMBER ? n : undefined;
          }
          const b = boolOf(t);
          return b === null ? undefined : b ? 1 : null;
        });
        return;
      case "compress":
        s.compress = this.compress(st);
        return;
      case "keepalive": {
        const tok = this.one(st, "yes, no or interval:count");
        const m = /^(\d+):(\d+)$/.exec(tok.text);
        if (tok.kind === "word" && m) {
          const [interval, count] = [Number(m[1]), Number(m[2])];
          if (interval === 0) {
            state.keepaliveOn = false;
            return;
          }
          if (interval > 3600 || count < 1 || count > 1000) this.bad(st, "interval:count with interval 1..3600 s and count 1..1000");
          state.keepaliveOn = true;
          state.keepalive = { intervalSec: interval, maxFail: count };
          return;
        }
        const b = boolOf(tok);
        if (b === null) this.bad(st, "yes, no or interval:count");
        state.keepaliveOn = b;
        return;
      }
      case "speed": {
        const tok = this.one(st, "a speed in kbit/s: 0, N or A:B");
        const m = /^(\d+)(?::(\d+))?$/.exec(tok.text);
        const pair = m ? [Number(m[1]), Number(m[2] ?? m[1])] as const : null;
        if (tok.kind !== "word" || pair === null || pair[0] > SPEED_MAX || pair[1] > SPEED_MAX) {
          this.bad(st, "a speed in kbit/s: 0, N or A:B");
        }
        s.speed = pair[0] === 0 && pair[1] === 0 ? null : { toClient: pair[0], toServer: pair[1] };
        return;
      }
      case "srcaddr":
        return this.nestedBlock(st, (inner) => {
          const a = state.srcaddr;
          if (inner.keyword === "addr") {
            const addr = this.wordOrString(inner, "an IPv4 or IPv6 address");
            if (!isIpAddress(addr)) this.bad(inner, "an IPv4 or IPv6 address (vtunts does not look up host names here)");
            [a.addr, a.iface] = [addr, null];
          } else if (inner.keyword === "iface") {
            const iface = this.wordOrString(inner, DEVICE_EXPECTED);
            if (!isDeviceName(iface)) this.bad(inner, DEVICE_EXPECTED);
            [a.addr, a.iface] = [null, iface];
          } else if (inner.keyword === "port") {
            const port = this.number(inner, 0, 65535, "a port number from 0 (any) to 65535");
            a.port = port === 0 ? null : port;
          } else {
            this.fail(inner.line, inner.word, "not allowed in srcaddr (allowed: addr, iface, port)");
          }
        });
      case "up":
      case "down": {
        const list: Command[] = []; // the block replaces the inherited list
        this.nestedBlock(st, (inner) => list.push(this.command(inner)));
        if (st.keyword === "up") s.up = list;
        else s.down = list;
        return;
      }
    }
  }

  /** `compress`, with vtund 3.0.x's quirks (§7.3): bare `lzo` = zlib level 2, bare N = zlib level N. */
  private compress(st: Statement): Compression | null {
    const expected = "yes, no, zlib:N or lzo:N (N from 1 to 9), or a zlib level";
    const tok = this.one(st, expected);
    if (tok.kind !== "word") this.bad(st, expected);
    const m = /^(zlib|lzo):(\d+)$/.exec(tok.text);
    if (m) {
      const level = Number(m[2]);
      if (level > 9) this.bad(st, expected);
      return { method: m[1] as "zlib" | "lzo", level: Math.max(level, 1) }; // vtund uses level 1 for 0
    }
    if (tok.text === "zlib") return { method: "zlib", level: 1 };
    if (tok.text === "lzo") {
      this.warn(st.line, st.word, "bare lzo means zlib level 2 in vtund 3.0.x (kept); write lzo:N for LZO");
      return { method: "zlib", level: 2 };
    }
    if (isNum(tok.text)) {
      const level = Number(tok.text);
      if (level > 9) this.bad(st, expected);
      return level === 0 ? null : { method: "zlib", level };
    }
    const b = boolOf(tok);
    if (b === null) this.bad(st, expected);
    return b ? { method: "zlib", level: 1 } : null;
  }

  // ---- up { } / down { }

  private command(st: Statement): Command {
    if (!COMMAND_KEYWORDS.includes(st.keyword)) {
      this.fail(st.line, st.word, `not allowed in an up or down block (allowed: ${COMMAND_KEYWORDS.join(", ")})`);
    }
    if (st.keyword !== "program") {
      const tok = this.one(st, `a quoted string of arguments, e.g. ${st.word} "…"`);
      if (tok.kind !== "string") this.bad(st, `a quoted string of arguments, e.g. ${st.word} "…"`);
      const which = st.keyword as NamedCommand;
      return { program: this.options.programs[which], args: tok.text, ...NAMED_COMMANDS[which] };
    }
    const expected = `[PATH] ["ARGS"] [wait]`;
    let program: string | null = null;
    let args: string | null = null;
    let flags: number | null = null;
    for (const tok of st.values) {
      if (tok.kind === "path" && program === null) program = tok.text;
      else if (tok.kind === "string" && args === null) args = tok.text;
      else if (tok.kind === "word" && flags === null && tok.text === "wait") flags = 1;
      else if (tok.kind === "word" && flags === null && /^[0-3]$/.test(tok.text)) flags = Number(tok.text);
      else this.bad(st, expected);
    }
    if (program === null && !args) this.bad(st, `${expected} with a PATH or a non-empty "ARGS"`);
    return { program, args: args ?? "", wait: ((flags ?? 0) & 1) !== 0, delayAfter: ((flags ?? 0) & 2) !== 0 ? 10 : 0 };
  }
}
