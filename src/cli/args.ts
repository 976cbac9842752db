/**
 * The command line, with vtund's flags:
 *
 *     vtunts -s [-f file] [-P port] [-L addr] [-t secs] [-n]
 *     vtunts [-f file] [-P port] [-p] [-t secs] [-n] <session> <server>
 *     vtunts convert <file>
 */
import { parseArgs } from "node:util";
import { parseLevel, type Level } from "../log.ts";
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";

/** What the command line asks for. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "convert"; path: string }
  | { kind: "server"; common: CommonArgs; bindaddr?: string; inetd: boolean }
  | { kind: "client"; common: CommonArgs; session: string; server: string; persist: boolean };

/** Flags shared by server and client. */
export interface CommonArgs {
  configPath: string;
  port?: number;
  timeout?: number;
  foreground: boolean;
  logLevel: Level;
  /** -q: no "Connecting to" / timeout messages. */
  quiet: boolean;
  /** -m: lock the daemon's memory (mlockall). */
  mlock: boolean;
  /** -4 / -6: transport address family (default: [options], else IPv4). */
  family?: "ipv4" | "ipv6";
}

/** A command-line mistake; the message is one line for the user. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The text of `vtunts --help`. */
export const HELP = `vtunts — vtun's Virtual Tunnel daemon, wire-compatible with vtund 3.0.x

Usage:
  vtunts -s [-i] [-f FILE] [-P PORT] [-L ADDR] [-t SECS] [-n] [-4|-6]        run a server
  vtunts [-f FILE] [-P PORT] [-p] [-q] [-m] [-t SECS] [-n] [-4|-6] SESSION SERVER
                                                                       run a client
  vtunts convert FILE                                                        print a vtund.conf as TOML
  vtunts --help | --version

Options:
  -s             server mode: accept clients for the sessions in FILE
  -i             inetd mode: serve the one connection on stdin (implies -s)
  -f FILE        configuration file (default ${DEFAULT_CONFIG_PATH}); TOML if it
                 ends in .toml, vtund.conf syntax otherwise
  -P PORT        TCP port (default: [options] port, else 5000)
  -L ADDR        server: listen address (default: [options] bindaddr, else 0.0.0.0)
  -p             client: reconnect forever, 5 s after each failure (persist)
  -t SECS        connect and handshake timeout in seconds (default: [options] timeout, else 30)
  -q             client: do not log connection attempts
  -m             lock the daemon in memory (mlockall), as vtund -m
  -4, -6         IPv4 or IPv6 transport (default: [options] ipv4/ipv6, else IPv4)
  -n             stay in the foreground and log to stderr (otherwise: run in the
                 background, log to syslog)
  --log-level L  error, warn, info (default) or debug
  -h, --help     show this help
  -v, --version  show the version

The server decides every session setting (type, proto, keepalive); the client
only needs the session name and password (and its own up/down commands).

Exit codes: 0 clean shutdown or session closed by the peer, 1 bad command line
or configuration, 2 server unreachable or not speaking vtun, 3 authentication
denied, 4 local failure (TUN device, permissions, address in use), 5 link lost
(keepalive timeout or network error).

Example:
  vtunts -s -n -f /etc/vtunts.toml                 # on the server
  vtunts -n -f /etc/vtunts.toml office vpn.example.org   # on the client
  vtunts convert /etc/vtund.conf > /etc/vtunts.toml      # vtund.conf to TOML
  (a client session named "convert" needs a flag before it, e.g. -f FILE)
`;

function integer(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${flag}: expected a number from ${min} to ${max}, got "${text}"`);
  }
  return Number(text);
}

/** Parses `argv` (without the program name). */
export function parseCommandLine(argv: string[]): Command {
  if (argv[0] === "convert") {
    const rest = argv.slice(1);
    if (rest.length !== 1 || rest[0]!.startsWith("-")) throw new UsageError("convert takes exactly one FILE: vtunts convert FILE");
    return { kind: "convert", path: rest[0]! };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        s: { type: "boolean", short: "s" },
        f: { type: "string", short: "f" },
        P: { type: "string", short: "P" },
        L: { type: "string", short: "L" },
        p: { type: "boolean", short: "p" },
        t: { type: "string", short: "t" },
        n: { type: "boolean", short: "n" },
        i: { type: "boolean", short: "i" },
        q: { type: "boolean", short: "q" },
        m: { type: "boolean", short: "m" },
        "4": { type: "boolean", short: "4" },
        "6": { type: "boolean", short: "6" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!.replace(/^TypeError( \[\w+\])?: /, ""));
  }
  const v = parsed.values;
  if (v.help) return { kind: "help" };
  if (v.version) return { kind: "version" };
  const logLevel = v["log-level"] === undefined ? "info" : parseLevel(v["log-level"]);
  if (logLevel === null) throw new UsageError(`--log-level: expected error, warn, info or debug, got "${v["log-level"]}"`);
  const common: CommonArgs = {
    configPath: v.f ?? DEFAULT_CONFIG_PATH,
    port: integer(v.P, "-P", 1, 65535),
    timeout: integer(v.t, "-t", 1, 86400),
    foreground: v.n ?? false,
    logLevel,
    quiet: v.q ?? false,
    mlock: v.m ?? false,
    family: v["6"] ? "ipv6" : v["4"] ? "ipv4" : undefined,
  };
  if (v["4"] && v["6"]) throw new UsageError("-4 and -6 exclude each other");
  const pos = parsed.positionals;
  if (v.s || v.i) {
    if (v.p) throw new UsageError("-p (persist) is a client option");
    if (pos.length > 0) throw new UsageError(`server mode takes no SESSION or SERVER arguments (got "${pos.join(" ")}")`);
    return { kind: "server", common, bindaddr: v.L, inetd: v.i ?? false };
  }
  if (v.L !== undefined) throw new UsageError("-L (listen address) is a server option; add -s");
  if (pos.length !== 2) {
    throw new UsageError(pos.length < 2 ? "a client needs SESSION and SERVER arguments" : `too many arguments: "${pos.join(" ")}"`);
  }
  return { kind: "client", common, session: pos[0]!, server: pos[1]!, persist: v.p ?? false };
}
