/**
 * The session FLAGS string the server sends after a successful authentication,
 * e.g. `<TuK>` (tcp, tun, keepalive) or `<UeC9KE1>`. The server's config decides
 * every one of these; the client obeys.
 */

/** Session transport protocol. */
export type Proto = "tcp" | "udp";
/** Session type: what the local end of the tunnel is. */
export type SessionType = "tty" | "pipe" | "ether" | "tun";

/** Everything the FLAGS string carries. */
export interface SessionFlags {
  proto: Proto;
  type: SessionType;
  /** Traffic shaping (kbit/s) the client applies to its output; null = off. `S<n>`. */
  speed: number | null;
  /** Compression method and level; null = off. `C<n>` (zlib) or `L<n>` (lzo). */
  compress: { method: "zlib" | "lzo"; level: number } | null;
  /** Keepalive enabled. `K`. */
  keepalive: boolean;
  /** Cipher number (1..16, 999 = vtun 2.x legacy Blowfish); null = no encryption. `E<n>`. */
  encrypt: number | null;
}

/** The cipher number vtund uses internally for vtun 2.x Blowfish (bare `E` on the wire). */
export const LEGACY_CIPHER = 999;

const TYPE_CHARS: Record<SessionType, string> = { tty: "t", pipe: "p", ether: "e", tun: "u" };

/** Formats flags exactly as vtund's server does (`bf2cf`): `<` proto type S C L K E `>`. */
export function formatFlags(f: SessionFlags): string {
  let s = "<";
  s += f.proto === "udp" ? "U" : "T";
  s += TYPE_CHARS[f.type];
  if (f.speed !== null) s += `S${f.speed}`;
  if (f.compress?.method === "zlib") s += `C${f.compress.level}`;
  if (f.compress?.method === "lzo") s += `L${f.compress.level}`;
  if (f.keepalive) s += "K";
  if (f.encrypt !== null) s += f.encrypt === LEGACY_CIPHER ? "E" : `E${f.encrypt}`;
  return `${s}>`;
}

/**
 * Parses the flags in a server line (`OK FLAGS: <...>`) with the grammar of
 * vtund's client (`cf2bf`): unknown characters, a missing number after C, L or S,
 * or a missing `>` make it fail (null). `F` is reserved and ignored.
 */
export function parseFlags(line: string): SessionFlags | null {
  const open = line.indexOf("<");
  if (open < 0) return null;
  const flags: SessionFlags = {
    proto: "tcp",
    type: "tty",
    speed: null,
    compress: null,
    keepalive: false,
    encrypt: null,
  };
  let i = open + 1;
  const number = (): number | null => {
    const m = /^\d+/.exec(line.slice(i));
    if (!m) return null;
    i += m[0].length;
    return Number.parseInt(m[0], 10);
  };
  while (i < line.length) {
    const c = line[i++]!;
    switch (c) {
      case "t": flags.type = "tty"; break;
      case "p": flags.type = "pipe"; break;
      case "e": flags.type = "ether"; break;
      case "u": flags.type = "tun"; break;
      case "T": flags.proto = "tcp"; break;
      case "U": flags.proto = "udp"; break;
      case "K": flags.keepalive = true; break;
      case "F": break;
      case "C":
      case "L": {
        const level = number();
        if (level === null) return null;
        flags.compress = { method: c === "C" ? "zlib" : "lzo", level: Math.max(level, 1) };
        break;
      }
      case "S": {
        const speed = number();
        if (speed === null) return null;
        flags.speed = speed === 0 ? null : speed;
        break;
      }
      case "E": {
        const cipher = number();
        flags.encrypt = cipher === null || cipher === 0 ? LEGACY_CIPHER : cipher;
        break;
      }
      case ">":
        return flags;
      default:
        return null;
    }
  }
  return null;
}
