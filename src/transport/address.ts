/**
 * IP addresses and `struct sockaddr_in` / `sockaddr_in6` in bytes: pure
 * functions, so the socket code below never hand-packs a structure.
 */
import { AF_INET, AF_INET6 } from "../../ffi/libc.ts";

/** An IP endpoint. `address` is textual ("10.0.0.1", "fe80::1"). */
export interface Endpoint {
  family: 4 | 6;
  address: string;
  port: number;
}

/** Size of a buffer that holds any socket address we use (sockaddr_in6 = 28). */
export const SOCKADDR_MAX = 28;

/** Parses a dotted IPv4 address to 4 bytes, or null. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 address (with `::` and an optional trailing dotted IPv4) to 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  // A dotted IPv4 tail is allowed only at the very end of the address (`last`).
  const groups = (s: string, last: boolean): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (last && i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const words = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Formats 4 or 16 address bytes as text (IPv6 with the longest zero run compressed). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  // IPv4-mapped IPv6 (::ffff:a.b.c.d), as a dual-stack socket reports IPv4 peers.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.subarray(12, 16).join(".")}`;
  }
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** The family of a textual IP address, or null if it is not one. */
export function addressFamily(text: string): 4 | 6 | null {
  if (parseIPv4(text)) return 4;
  if (parseIPv6(text)) return 6;
  return null;
}

/** Encodes an endpoint as `struct sockaddr_in` (16 bytes) or `sockaddr_in6` (28 bytes). */
export function encodeSockaddr(ep: Endpoint): Uint8Array {
  const bytes = ep.family === 4 ? parseIPv4(ep.address) : parseIPv6(ep.address);
  if (bytes === null) throw new Error(`address: "${ep.address}" is not an IPv${ep.family} address`);
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) {
    throw new Error(`address: port ${ep.port} is out of range`);
  }
  const out = new Uint8Array(ep.family === 4 ? 16 : 28);
  const view = new DataView(out.buffer);
  view.setUint16(0, ep.family === 4 ? AF_INET : AF_INET6, true); // sa_family: host order
  view.setUint16(2, ep.port, false); // port: network order
  out.set(bytes, ep.family === 4 ? 4 : 8);
  return out;
}

/** Decodes a `sockaddr_in`/`sockaddr_in6` written by the kernel. */
export function decodeSockaddr(buf: Uint8Array): Endpoint {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2, false);
  if (family === AF_INET) return { family: 4, address: formatAddress(buf.subarray(4, 8)), port };
  if (family === AF_INET6) {
    return { family: 6, address: formatAddress(buf.subarray(8, 24)), port };
  }
  throw new Error(`address: unsupported socket address family ${family}`);
}

/**
 * The address as people write it: an IPv4-mapped IPv6 address (how a
 * dual-stack socket reports an IPv4 peer) as plain IPv4. For logs and `%a`/`%A`.
 */
export function plainAddress(ep: Endpoint): string {
  return ep.family === 6 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ep.address) ? ep.address.slice(7) : ep.address;
}

/** "1.2.3.4:5000" or "[fe80::1]:5000", for logs. */
export function formatEndpoint(ep: Endpoint): string {
  const address = plainAddress(ep);
  return address.includes(":") ? `[${address}]:${ep.port}` : `${address}:${ep.port}`;
}
