/**
 * Loads the vtund 3.0.4 capture files in this folder (see README.md) for unit
 * tests, with the fields the tests use checked and typed.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The folder holding the captures. */
export const VECTOR_DIR = fileURLToPath(new URL(".", import.meta.url));

/** A SYN/FIN/RST segment of the control connection. */
export interface TcpEvent {
  t: number;
  dir: "c2s" | "s2c";
  flags: string;
  sport: number;
  dport: number;
}

/** A UDP payload (one vtun frame). */
export interface UdpPayload {
  t: number;
  dir: "c2s" | "s2c";
  sport: number;
  dport: number;
  len: number;
  hex: string;
}

/** A plaintext IPv4 packet seen on a tun device. */
export interface InnerPacket {
  t: number;
  src: string;
  dst: string;
  len: number;
  hex: string;
}

/** One capture file. */
export interface Vector {
  /** Path relative to the vectors folder, e.g. "tcp-plain.json" or "sighup/udp-plain.json". */
  file: string;
  case: string;
  host: string;
  client_host: string;
  server_passwd: string;
  client_passwd: string;
  /** The server's vtund.conf. */
  server_conf: string;
  port: number;
  tun_server: string;
  tun_client: string;
  tcp_events: TcpEvent[];
  tcp_stream_prefix?: { c2s: string; s2c: string };
  udp_payloads?: UdpPayload[];
  inner_icmp_packets: { client_tun: InnerPacket[]; server_tun: InnerPacket[] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function check(cond: boolean, file: string, what: string): void {
  if (!cond) throw new Error(`test vector ${file}: bad or missing ${what}`);
}

function validate(file: string, v: unknown): Vector {
  check(isRecord(v), file, "top-level object");
  const o = v as Record<string, unknown>;
  for (const k of ["case", "host", "client_host", "server_passwd", "client_passwd", "server_conf", "tun_server", "tun_client"]) {
    check(typeof o[k] === "string", file, k);
  }
  check(typeof o.port === "number", file, "port");
  check(Array.isArray(o.tcp_events), file, "tcp_events");
  const prefix = o.tcp_stream_prefix;
  if (prefix !== undefined) {
    check(isRecord(prefix) && typeof prefix.c2s === "string" && typeof prefix.s2c === "string", file, "tcp_stream_prefix");
  }
  check(o.udp_payloads === undefined || Array.isArray(o.udp_payloads), file, "udp_payloads");
  const inner = o.inner_icmp_packets;
  check(isRecord(inner) && Array.isArray(inner.client_tun) && Array.isArray(inner.server_tun), file, "inner_icmp_packets");
  return { ...(o as unknown as Omit<Vector, "file">), file };
}

/** Loads one capture by its path relative to the vectors folder. */
export function loadVector(file: string): Vector {
  return validate(file, JSON.parse(readFileSync(join(VECTOR_DIR, file), "utf8")) as unknown);
}

/** Every capture file, the subfolders' included, sorted by path. */
export function allVectors(): Vector[] {
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(VECTOR_DIR, rel)).sort()) {
      const path = rel === "" ? name : `${rel}/${name}`;
      if (statSync(join(VECTOR_DIR, path)).isDirectory()) walk(path);
      else if (name.endsWith(".json")) files.push(path);
    }
  };
  walk("");
  return files.sort().map(loadVector);
}

/** Size of a handshake record (independent of src/, which the tests check). */
const RECORD_BYTES = 50;

/** The handshake records at the start of a capture's TCP byte streams. */
export interface HandshakeRecords {
  /** Server to client: greeting, `OK CHAL`, then `OK FLAGS` or `ERR` (50 bytes each). */
  s2c: [Uint8Array, Uint8Array, Uint8Array];
  /** Client to server: `HOST`, `CHAL` (50 bytes each). */
  c2s: [Uint8Array, Uint8Array];
  /** What follows the handshake in each direction's 400-byte prefix. */
  after: { s2c: Uint8Array; c2s: Uint8Array };
}

/** Splits a capture's `tcp_stream_prefix` into its handshake records; null if it has none. */
export function handshakeRecords(v: Vector): HandshakeRecords | null {
  if (v.tcp_stream_prefix === undefined) return null;
  const s2c = fromHex(v.tcp_stream_prefix.s2c);
  const c2s = fromHex(v.tcp_stream_prefix.c2s);
  if (s2c.length < 3 * RECORD_BYTES || c2s.length < 2 * RECORD_BYTES) return null;
  const rec = (b: Uint8Array, i: number) => b.slice(i * RECORD_BYTES, (i + 1) * RECORD_BYTES);
  return {
    s2c: [rec(s2c, 0), rec(s2c, 1), rec(s2c, 2)],
    c2s: [rec(c2s, 0), rec(c2s, 1)],
    after: { s2c: s2c.slice(3 * RECORD_BYTES), c2s: c2s.slice(2 * RECORD_BYTES) },
  };
}

/**
 * The `key value;` settings of the session block (named `v.host`) in the
 * server's config, nested blocks such as `up { ... }` left out.
 */
export function serverSessionSettings(v: Vector): Map<string, string> {
  const settings = new Map<string, string>();
  const lines = v.server_conf.split("\n");
  const start = lines.findIndex((l) => l.trim() === `${v.host} {`);
  if (start < 0) throw new Error(`test vector ${v.file}: no session ${v.host} in server_conf`);
  let depth = 1;
  for (const line of lines.slice(start + 1)) {
    const t = line.trim();
    if (t.endsWith("{")) depth++;
    else if (t.startsWith("}")) depth--;
    else if (depth === 1) {
      const m = /^(\S+)\s+(.*?);$/.exec(t);
      if (m) settings.set(m[1]!, m[2]!);
    }
    if (depth === 0) break;
  }
  return settings;
}

/** Decodes a hex string. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`not a hex string: ${hex.slice(0, 20)}...`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Encodes bytes as lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
