/**
 * Test helpers for src/compress (not used by the daemon): the data frames of
 * the compressed vtund captures with the plaintext packets they carry, and
 * packet-like sample data.
 */
import { fromHex, handshakeRecords, loadVector, type InnerPacket } from "../../test/vectors/vectors.ts";

/** One direction of a capture: its data frame bodies and the packets they carry, in order. */
export interface CapturedDirection {
  frames: Uint8Array[];
  packets: Uint8Array[];
}

/** The data frames (control frames skipped; a frame cut off by the prefix dropped) in a byte stream. */
function dataFrames(stream: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at + 2 <= stream.length) {
    const header = (stream[at]! << 8) | stream[at + 1]!;
    at += 2;
    if ((header & 0xf000) !== 0) continue;
    const length = header & 0x0fff;
    if (at + length > stream.length) break;
    frames.push(stream.slice(at, at + length));
    at += length;
  }
  return frames;
}

/** Both directions of a compressed capture such as "tcp-zlib9.json". */
export function capturedFrames(file: string): { c2s: CapturedDirection; s2c: CapturedDirection } {
  const v = loadVector(file);
  const records = handshakeRecords(v);
  if (records === null) throw new Error(`${file}: no handshake in the capture`);
  const from = (list: InnerPacket[], src: string): Uint8Array[] => list.filter((p) => p.src === src).map((p) => fromHex(p.hex));
  return {
    // Echo requests seen on the client's tun went c2s; replies on the server's tun went s2c.
    c2s: { frames: dataFrames(records.after.c2s), packets: from(v.inner_icmp_packets.client_tun, v.tun_client) },
    s2c: { frames: dataFrames(records.after.s2c), packets: from(v.inner_icmp_packets.server_tun, v.tun_server) },
  };
}

/** A deterministic pseudo-random generator (xorshift32), so failures reproduce. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Kinds of sample data. */
export type SampleKind = "random" | "zeros" | "repetitive" | "packet";
export const SAMPLE_KINDS: readonly SampleKind[] = ["random", "zeros", "repetitive", "packet"];

const TEXT = new TextEncoder().encode(
  "GET /index.html HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: vtunts-test/1.0\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n<html><head><title>Example</title></head><body><p>The quick brown fox jumps over the lazy dog.</p></body></html>\n",
);

/**
 * `length` bytes of sample data. "packet" is an IPv4/TCP header followed by
 * a payload of text with some random bytes, like typical tunnel traffic.
 */
export function sample(kind: SampleKind, length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const next = prng(seed);
  switch (kind) {
    case "random":
      for (let i = 0; i < length; i++) out[i] = next() & 0xff;
      break;
    case "zeros":
      break;
    case "repetitive": {
      const period = 1 + (next() % 13);
      for (let i = 0; i < length; i++) out[i] = (i % period) * 17 + (i % 251 === 0 ? 1 : 0);
      break;
    }
    case "packet": {
      const header = [
        0x45, 0x00, (length >> 8) & 0xff, length & 0xff, next() & 0xff, next() & 0xff, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
        10, 202, 0, 2, 10, 202, 0, 1, 0xc3, 0x50, 0x00, 0x50, next() & 0xff, next() & 0xff, next() & 0xff, next() & 0xff,
        0, 0, 0x12, 0x34, 0x80, 0x18, 0x01, 0xf5, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0x12, 0x34, 0x56, 0, 0x65, 0x43, 0x21,
      ];
      const textAt = next() % TEXT.length;
      for (let i = 0; i < length; i++) {
        if (i < header.length) out[i] = header[i]!;
        else if (next() % 10 === 0) out[i] = next() & 0xff;
        else out[i] = TEXT[(textAt + i) % TEXT.length]!;
      }
      break;
    }
  }
  return out;
}
