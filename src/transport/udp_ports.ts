/**
 * The UDP port exchange that follows `OK FLAGS: <U...>` on the TCP connection:
 * each side sends its UDP port as 2 raw bytes, reads the peer's, then both
 * close TCP and talk UDP.
 *
 * Upstream vtund sends the port big-endian; Debian's vtund 3.0.4 (IPv6 patch)
 * sends it in host order, little-endian on amd64, and reads ours the same way.
 * We detect which one the peer speaks by comparing its 2 bytes with the port we
 * expect (the server's: the port we connected to; the client's: its TCP source
 * port), and answer in the same order.
 */
import { StreamError, type ByteStream } from "../protocol/stream.ts";

/** Byte order of the 2-byte port. */
export type PortOrder = "le" | "be";

/** The byte order vtunts uses when nothing tells it otherwise: Debian's vtund (amd64). */
export const DEFAULT_PORT_ORDER: PortOrder = "le";

/** How long a server waits for the client's port before sending its own first. */
export const SERVER_GRACE_MS = 300;

/** Encodes `port` as 2 bytes in `order`. */
export function encodePort(port: number, order: PortOrder): Uint8Array {
  return order === "be" ? new Uint8Array([port >> 8, port & 0xff]) : new Uint8Array([port & 0xff, port >> 8]);
}

/** Decodes 2 port bytes in `order`. */
export function decodePort(bytes: Uint8Array, order: PortOrder): number {
  return order === "be" ? (bytes[0]! << 8) | bytes[1]! : bytes[0]! | (bytes[1]! << 8);
}

/**
 * The byte order in which `bytes` encode `expectedPort`: "be", "le", or null if
 * neither matches (a NAT changed the port). A palindromic port matches both and
 * says nothing about the peer's order; then the answer is `prefer`.
 */
export function detectPortOrder(bytes: Uint8Array, expectedPort: number, prefer: PortOrder = "be"): PortOrder | null {
  const be = decodePort(bytes, "be") === expectedPort;
  const le = decodePort(bytes, "le") === expectedPort;
  if (be && le) return prefer;
  if (be) return "be";
  if (le) return "le";
  return null;
}

/** What the exchange settled. */
export interface PortExchange {
  /** The peer's UDP port. */
  peerPort: number;
  /** The byte order used both ways. */
  order: PortOrder;
  /**
   * True when the peer's bytes gave the expected port, so the order comes from
   * them (or, for a palindromic port, which fits both, from the fallback).
   */
  detected: boolean;
}

/** Parameters of {@link exchangeUdpPorts}. */
export interface PortExchangeParams {
  role: "client" | "server";
  /** Our UDP socket's port. */
  ownPort: number;
  /** The port we expect the peer to announce (see module comment). */
  expectedPeerPort: number;
  /** Timeout for the peer's bytes (vtund: the session `timeout`). */
  timeoutMs: number;
  /** Byte order to use when the peer's bytes do not tell. */
  fallbackOrder?: PortOrder;
  /** Server only: how long to wait for the client to speak first. */
  graceMs?: number;
}

/**
 * Runs the exchange. A real vtund writes its port at once; so the client
 * always reads first, and the server reads first for a short grace period and
 * then, if the client is a vtunts waiting for it, writes in the fallback order.
 */
export async function exchangeUdpPorts(stream: ByteStream, p: PortExchangeParams): Promise<PortExchange> {
  const fallback = p.fallbackOrder ?? DEFAULT_PORT_ORDER;
  const interpret = (bytes: Uint8Array): PortExchange => {
    const detected = detectPortOrder(bytes, p.expectedPeerPort, fallback);
    const order = detected ?? fallback;
    return { peerPort: decodePort(bytes, order), order, detected: detected !== null };
  };

  if (p.role === "server") {
    let early: Uint8Array | null = null;
    try {
      early = await stream.readExact(2, p.graceMs ?? SERVER_GRACE_MS);
    } catch (e) {
      if (!(e instanceof StreamError && e.failure === "timeout")) throw e;
    }
    if (early === null) {
      // The client waits for us, so it is a vtunts: speak first; it follows our order.
      await stream.write(encodePort(p.ownPort, fallback));
      return interpret(await stream.readExact(2, p.timeoutMs));
    }
    const result = interpret(early);
    await stream.write(encodePort(p.ownPort, result.order));
    return result;
  }

  const result = interpret(await stream.readExact(2, p.timeoutMs));
  await stream.write(encodePort(p.ownPort, result.order));
  return result;
}
