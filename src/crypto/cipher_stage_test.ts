/**
 * The encryption stage: the vtund 3.0.4 captures decode to the recorded ping
 * packets (including 64-bit vtund's zeroed first 4 bytes with Blowfish CBC),
 * an independent node:crypto decoder reads both vtund's frames and ours
 * (ivec header, "seq#" blocks with consecutive numbers, padding), round trips
 * for every cipher and many sizes on both backends, byte-identical output of
 * the native and TypeScript backends, the overhead bound, and the resync
 * state machine of §6.5 under simulated UDP loss.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, getCipherInfo, getCiphers } from "node:crypto";
import { createCipherStage, MAX_GIBBERISH, type CipherStage, type CipherStageOptions } from "./cipher_stage.ts";
import { CIPHERS, cipherByName, type CipherInfo } from "./ciphers.ts";
import { deriveKey } from "./key.ts";
import { nativeLibrary, nativeSupported } from "./native.ts";
import { detectRuntime, loadLibCrypto } from "../../ffi/index.ts";
import { Blowfish } from "./blowfish.ts";
import { fromHex, loadVector, serverSessionSettings, toHex, type Vector } from "../../test/vectors/vectors.ts";

type Dir = "c2s" | "s2c";

// As in a session: "native" AES is libcrypto through FFI where this runtime loads it (Bun),
// else node:crypto; every "native" test below runs on that library.
const libCrypto = await loadLibCrypto();

/** Asserts equal bytes (hex only in the failure message: toHex is slow for big loops). */
function sameBytes(got: Uint8Array, want: Uint8Array, message: string): void {
  let same = got.length === want.length;
  for (let i = 0; same && i < got.length; i++) same = got[i] === want[i];
  if (!same) assert.equal(toHex(got), toHex(want), message);
}
type Backend = "pure" | "native";

/** Deterministic stand-in for the random source (xorshift32). */
function seededRandom(seed: number): (buf: Uint8Array) => void {
  let x = seed >>> 0 || 1;
  return (buf) => {
    for (let i = 0; i < buf.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      buf[i] = x & 0xff;
    }
  };
}

function nativeAvailable(info: CipherInfo): boolean {
  const mode = info.mode === "legacy" ? "ecb" : info.mode;
  return nativeSupported(info.algorithm, info.keyBytes, "ecb") && nativeSupported(info.algorithm, info.keyBytes, mode);
}

function skipNative(backend: Backend, info: CipherInfo): string | false {
  return backend === "native" && !nativeAvailable(info) ? `node:crypto here cannot do ${info.name}` : false;
}

// ---------------------------------------------------------------------------
// Captured frames

interface Chunk {
  dir: Dir;
  hex: string;
}

/** The TCP payload segments of a capture (the loader leaves this field untyped). */
function tcpChunks(v: Vector): Chunk[] {
  const raw = (v as unknown as Record<string, unknown>).tcp_chunks;
  if (!Array.isArray(raw)) return [];
  return raw.map((c: unknown) => {
    const o = c as Record<string, unknown>;
    assert.ok((o.dir === "c2s" || o.dir === "s2c") && typeof o.hex === "string", `${v.file}: bad tcp_chunks entry`);
    return { dir: o.dir, hex: o.hex };
  });
}

/** Bodies of the data frames (control frames 0x1000/0x2000/0x4000 left out) sent in direction `dir`. */
function dataFrames(v: Vector, dir: Dir): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  const take = (frame: Uint8Array): void => {
    const h = (frame[0]! << 8) | frame[1]!;
    if ((h & 0xf000) === 0) bodies.push(frame.subarray(2, 2 + (h & 0x0fff)));
  };
  if (v.udp_payloads !== undefined && v.udp_payloads.length > 0) {
    for (const p of v.udp_payloads) if (p.dir === dir) take(fromHex(p.hex));
    return bodies;
  }
  // TCP: the byte stream of the chunks (none were dropped in these captures) after the 50-byte handshake records.
  const parts = tcpChunks(v).filter((c) => c.dir === dir).map((c) => fromHex(c.hex));
  const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (stream.set(p, at), at + p.length), 0);
  assert.ok(v.tcp_stream_prefix !== undefined);
  const prefix = fromHex(v.tcp_stream_prefix[dir]);
  assert.equal(toHex(stream.subarray(0, prefix.length)), toHex(prefix), `${v.file} ${dir}: chunks agree with tcp_stream_prefix`);
  let at = (dir === "c2s" ? 2 : 3) * 50;
  while (at + 2 <= stream.length) {
    const h = (stream[at]! << 8) | stream[at + 1]!;
    const len = h & 0xf000 ? 0 : h & 0x0fff;
    if (at + 2 + len > stream.length) break;
    take(stream.subarray(at, at + 2 + len));
    at += 2 + len;
  }
  return bodies;
}

/** The plaintext packets of direction `dir`: echo requests from the client's tun, replies from the server's. */
function plaintexts(v: Vector, dir: Dir): Uint8Array[] {
  const list = dir === "c2s" ? v.inner_icmp_packets.client_tun : v.inner_icmp_packets.server_tun;
  const src = dir === "c2s" ? v.tun_client : v.tun_server;
  return list.filter((p) => p.src === src.split("/")[0]).map((p) => fromHex(p.hex));
}

function cipherOf(v: Vector): CipherInfo {
  const word = serverSessionSettings(v).get("encrypt");
  assert.ok(word !== undefined, `${v.file}: no encrypt setting`);
  const n = cipherByName(word);
  assert.ok(n !== undefined, `${v.file}: unknown cipher ${word}`);
  return CIPHERS.get(n)!;
}

const ENCRYPTED_VECTORS = [
  "tcp-encrypt-yes.json",
  "tcp-aes128ecb.json",
  "tcp-aes128cbc.json",
  "tcp-aes256ofb.json",
  "tcp-bf128cbc.json",
  "udp-bf128ecb.json",
  "udp-aes128cbc.json",
  "pad-full-block/tcp-encrypt-yes.json",
  "pad-full-block/tcp-aes128ecb.json",
  "pad-full-block/tcp-aes128cbc.json",
  "pad-full-block/udp-bf128ecb.json",
  "pad-full-block/udp-aes128cbc.json",
];

// ---------------------------------------------------------------------------
// An independent decoder of the chained modes, straight from node:crypto.

interface Peeled {
  ivec: boolean;
  tag: string;
  seq: number;
  /** Bytes 8..bs of the seq block (zeros in a correct frame). */
  filler: Uint8Array;
  payload: Uint8Array;
  pad: number;
}

function nodeName(info: CipherInfo, mode: string): string {
  return info.algorithm === "aes" ? `aes-${info.keyBytes * 8}-${mode}` : `bf-${mode}`;
}

/** Null if node:crypto here lacks the cipher (then tests using it are skipped). */
function referenceDecoder(info: CipherInfo, password: string): ((body: Uint8Array) => Peeled) | null {
  const ciphers = getCiphers();
  const ecbName = nodeName(info, "ecb");
  let modeName = nodeName(info, info.mode);
  // OFB key stream = CBC encryption of zeros (Bun has bf-cbc but no bf-ofb).
  const ofbViaCbc = info.mode === "ofb" && !ciphers.includes(modeName);
  if (ofbViaCbc) modeName = nodeName(info, "cbc");
  if (!ciphers.includes(ecbName) || !ciphers.includes(modeName)) return null;
  const key = deriveKey(password, info.keyBytes);
  const bs = info.blockSize;
  const ecbIv = (getCipherInfo(ecbName)?.ivLength ?? 0) > 0 ? new Uint8Array(bs) : null;
  try {
    createDecipheriv(ecbName, key, ecbIv);
  } catch {
    return null;
  }
  let ctx: { update(b: Uint8Array): Uint8Array } | null = null;
  return (body) => {
    let rest = body;
    let ivec = false;
    if (ctx === null) {
      const e = createDecipheriv(ecbName, key, ecbIv);
      e.setAutoPadding(false);
      const h = new Uint8Array(e.update(body.subarray(0, 2 * bs)));
      assert.equal(new TextDecoder().decode(h.subarray(0, 4)), "ivec", "first frame starts with the ivec header");
      const iv = h.subarray(4, 4 + bs);
      if (ofbViaCbc) {
        const ks = createCipheriv(modeName, key, iv);
        ks.setAutoPadding(false);
        ctx = { update: (b) => ks.update(new Uint8Array(b.length)).map((k, i) => k ^ b[i]!) };
      } else {
        const d = createDecipheriv(modeName, key, iv);
        d.setAutoPadding(false);
        ctx = d;
      }
      rest = body.subarray(2 * bs);
      ivec = true;
    }
    const p = new Uint8Array(ctx.update(rest));
    const pad = p[p.length - 1]!;
    return {
      ivec,
      tag: new TextDecoder().decode(p.subarray(0, 4)),
      seq: ((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0,
      filler: p.slice(8, bs),
      payload: p.slice(bs, p.length - pad),
      pad,
    };
  };
}

// ---------------------------------------------------------------------------

describe("vtund transcripts decode to the captured packets", () => {
  for (const file of ENCRYPTED_VECTORS) {
    const v = loadVector(file);
    const info = cipherOf(v);
    for (const backend of ["pure", "native"] as const) {
      for (const dir of ["c2s", "s2c"] as const) {
        const frames = dataFrames(v, dir);
        const want = plaintexts(v, dir);
        if (frames.length === 0) continue;
        it(`${file} ${dir} (${info.name}, ${backend})`, { skip: skipNative(backend, info) }, () => {
          assert.equal(frames.length, want.length, "one data frame per captured packet");
          const logs: string[] = [];
          const stage = createCipherStage(info.number, v.server_passwd, { backend, log: (m) => logs.push(m) });
          assert.equal(stage.backend, backend);
          frames.forEach((body, i) => {
            const out = new Uint8Array(4096);
            const n = stage.decode(body, 0, body.length, out, 0);
            const got = out.subarray(0, n);
            if (info.algorithm === "blowfish" && info.sideband) {
              // 64-bit vtund's 8-byte seq store zeroed the first 4 payload bytes (§6.5).
              const expected = want[i]!.slice();
              expected.fill(0, 0, 4);
              assert.equal(toHex(got), toHex(expected), `frame ${i}`);
              assert.equal(toHex(got.subarray(0, 4)), "00000000");
            } else {
              assert.equal(toHex(got), toHex(want[i]!), `frame ${i}`);
            }
            assert.equal(stage.takeDummyRequest(), false, "no resync");
          });
          if (info.sideband) assert.ok(logs.includes(`${info.label} decryption initialized`), logs.join("; "));
        });
      }
    }
  }

  it("ECB frames are roundup(len + 1, bs) long (padding always added)", () => {
    for (const file of ENCRYPTED_VECTORS) {
      const v = loadVector(file);
      const info = cipherOf(v);
      if (info.sideband) continue;
      for (const dir of ["c2s", "s2c"] as const) {
        const want = plaintexts(v, dir);
        dataFrames(v, dir).forEach((f, i) => {
          assert.equal(f.length, (Math.floor(want[i]!.length / info.blockSize) + 1) * info.blockSize, `${file} ${dir} ${i}`);
        });
      }
    }
  });

  for (const file of ENCRYPTED_VECTORS) {
    const v = loadVector(file);
    const info = cipherOf(v);
    if (!info.sideband) continue;
    const probe = referenceDecoder(info, v.server_passwd);
    it(`${file}: frame layout read by an independent node:crypto decoder`, { skip: probe === null ? `no ${info.name} in node:crypto` : false }, () => {
      for (const dir of ["c2s", "s2c"] as const) {
        const decode = referenceDecoder(info, v.server_passwd)!;
        const want = plaintexts(v, dir);
        let seq = -1;
        dataFrames(v, dir).forEach((body, i) => {
          const p = decode(body);
          assert.equal(p.ivec, i === 0, "ivec header on the first frame only");
          assert.equal(body.length, (i === 0 ? 2 * info.blockSize : 0) + info.blockSize + want[i]!.length + p.pad);
          assert.equal(p.tag, "seq#");
          if (seq >= 0) assert.equal(p.seq, (seq + 1) >>> 0, "vtund's seq numbers count up by one per frame");
          seq = p.seq;
          if (info.blockSize === 16) {
            assert.equal(toHex(p.filler), "00".repeat(8), "seq block = seq# | BE32 | zeros");
            assert.equal(toHex(p.payload), toHex(want[i]!));
          } else {
            assert.equal(toHex(p.payload.subarray(0, 4)), "00000000", "Blowfish: first 4 payload bytes zeroed by 64-bit vtund");
            assert.equal(toHex(p.payload.subarray(4)), toHex(want[i]!.subarray(4)));
          }
        });
      }
    });
  }
});

// ---------------------------------------------------------------------------

const SIZES: number[] = (() => {
  const s = new Set<number>();
  for (let n = 0; n <= 70; n++) s.add(n);
  for (let n = 80; n <= 2048; n += 8) {
    s.add(n - 1);
    s.add(n);
    if (n % 16 === 0) s.add(n + 1);
  }
  for (const n of [92, 96, 1400, 1472, 1500, 1514, 2047, 2048]) s.add(n);
  return [...s].filter((n) => n <= 2048).sort((a, b) => a - b);
})();

function packet(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  seededRandom(seed + n)(p);
  return p;
}

describe("round trips for every cipher", () => {
  for (const info of CIPHERS.values()) {
    for (const backend of ["pure", "native"] as const) {
      it(`${info.name} (${info.number}, ${backend}): ${SIZES.length} sizes 0..2048`, { skip: skipNative(backend, info) }, () => {
        const a = createCipherStage(info.number, "s3cret pass", { backend });
        const b = createCipherStage(info.number, "s3cret pass", { backend });
        const wire = new Uint8Array(4096);
        const out = new Uint8Array(4096);
        let first = true;
        for (const n of SIZES) {
          const p = packet(n, info.number);
          // Put the packet at an offset, to check that offsets are honoured.
          const src = new Uint8Array(n + 7);
          src.set(p, 7);
          const e = a.encode(src, 7, n, wire, 3);
          if (n === 0 && !info.sideband && info.mode !== "legacy") {
            assert.equal(e, 0, "vtund's ECB encrypt_buf sends nothing for an empty packet");
            continue;
          }
          assert.ok(e > n, `${n}: encoded ${e}`);
          assert.ok(e <= n + a.overhead, `${n}: ${e} > ${n} + overhead ${a.overhead}`);
          assert.equal(e % info.blockSize, 0, "whole blocks");
          if (info.mode === "ecb" || info.mode === "legacy") assert.equal(e, (Math.floor(n / info.blockSize) + 1) * info.blockSize);
          else assert.equal(e, (first ? 2 * info.blockSize : 0) + info.blockSize + (Math.floor(n / info.blockSize) + 1) * info.blockSize);
          sameBytes(src.subarray(7), p, "input untouched");
          const d = b.decode(wire, 3, e, out, 5);
          if (n === 0) assert.equal(d, 0);
          else sameBytes(out.subarray(5, 5 + d), p, `size ${n}`);
          first = false;
          assert.equal(a.takeDummyRequest() || b.takeDummyRequest(), false);
        }
      });
    }
  }

  for (const info of CIPHERS.values()) {
    it(`${info.name}: native and pure backends give identical bytes and read each other`, { skip: skipNative("native", info) }, () => {
      const opts = (backend: Backend): CipherStageOptions => ({ backend, random: seededRandom(77) });
      const n = createCipherStage(info.number, "pw", opts("native"));
      const p = createCipherStage(info.number, "pw", opts("pure"));
      const nd = createCipherStage(info.number, "pw", { backend: "native" });
      const pd = createCipherStage(info.number, "pw", { backend: "pure" });
      const w1 = new Uint8Array(4096);
      const w2 = new Uint8Array(4096);
      const o = new Uint8Array(4096);
      for (const size of [1, 92, 96, 1400, 8, 16, 0, 2048, 33]) {
        const pk = packet(size, 5);
        const e1 = n.encode(pk, 0, size, w1, 0);
        const e2 = p.encode(pk, 0, size, w2, 0);
        assert.equal(e1, e2);
        assert.equal(toHex(w1.subarray(0, e1)), toHex(w2.subarray(0, e2)), `size ${size}`);
        if (e1 === 0) continue;
        assert.equal(toHex(o.subarray(0, pd.decode(w1, 0, e1, o, 0))), toHex(pk));
        assert.equal(toHex(o.subarray(0, nd.decode(w2, 0, e2, o, 0))), toHex(pk));
      }
    });
  }

  it("AES runs in libcrypto on Bun (node:crypto elsewhere)", () => {
    if (detectRuntime() === "bun") {
      assert.ok(libCrypto, "libcrypto.so.3 did not load (Debian package libssl3)");
      assert.equal(nativeLibrary("aes"), "libcrypto");
    } else {
      assert.equal(libCrypto, null);
      assert.equal(nativeLibrary("aes"), "node:crypto");
    }
    assert.equal(nativeLibrary("blowfish"), "node:crypto");
  });

  it("libcrypto refuses a cipher it does not have and a key of the wrong length", { skip: libCrypto ? false : "no libcrypto here" }, () => {
    const lib = libCrypto!;
    assert.equal(lib.newCipher("NO-SUCH-CIPHER", new Uint8Array(16), null, true), 0);
    assert.equal(lib.newCipher("AES-128-ECB", new Uint8Array(15), null, true), 0);
    assert.equal(lib.newCipher("AES-128-CBC", new Uint8Array(16), null, true), 0, "CBC without an IV");
    const ctx = lib.newCipher("AES-128-ECB", new Uint8Array(16), null, true);
    assert.notEqual(ctx, 0);
    // FIPS-197 C.1 (AES-128): 00112233…ff under key 000102…0f.
    const key = fromHex("000102030405060708090a0b0c0d0e0f");
    const enc = lib.newCipher("AES-128-ECB", key, null, true);
    const buf = new Uint8Array(40);
    buf.set(fromHex("00112233445566778899aabbccddeeff"), 7);
    assert.ok(lib.update(enc, buf, 7, 16, buf, 7), "in place, at an odd offset");
    assert.equal(toHex(buf.subarray(7, 23)), "69c4e0d86a7b0430d8cdb78070b4c55a");
    lib.freeCipher(ctx);
    lib.freeCipher(enc);
  });

  it("encodes correctly when dst is the same buffer as src (in place and shifted)", () => {
    for (const info of CIPHERS.values()) {
      const a = createCipherStage(info.number, "pw");
      const b = createCipherStage(info.number, "pw");
      for (const shift of [0, 16, 64]) {
        const pk = packet(300, shift);
        const buf = new Uint8Array(1024);
        buf.set(pk, 100);
        const e = a.encode(buf, 100, 300, buf, 100 + shift);
        const out = new Uint8Array(1024);
        assert.equal(toHex(out.subarray(0, b.decode(buf, 100 + shift, e, out, 0))), toHex(pk), `${info.name} shift ${shift}`);
      }
    }
  });

  it("decodes in place (dst = src)", () => {
    for (const info of CIPHERS.values()) {
      const a = createCipherStage(info.number, "pw");
      const b = createCipherStage(info.number, "pw");
      for (let i = 0; i < 3; i++) {
        const pk = packet(500 + i, i);
        const buf = new Uint8Array(1024);
        const e = a.encode(pk, 0, pk.length, buf, 10);
        assert.equal(toHex(buf.subarray(10, 10 + b.decode(buf, 10, e, buf, 10))), toHex(pk), info.name);
      }
    }
  });
});

// ---------------------------------------------------------------------------

describe("sender layout", () => {
  for (const info of CIPHERS.values()) {
    if (!info.sideband) continue;
    const skip = referenceDecoder(info, "pw") === null ? `no ${info.name} in node:crypto` : false;
    it(`${info.name}: our frames read by an independent node:crypto decoder`, { skip }, () => {
      const stage = createCipherStage(info.number, "pw", { backend: "pure" });
      const decode = referenceDecoder(info, "pw")!;
      let seq = -1;
      for (const [i, size] of [92, 1, 0, 1400, 96, 7, 8, 16].entries()) {
        const pk = packet(size, i);
        const wire = new Uint8Array(4096);
        const e = stage.encode(pk, 0, size, wire, 0);
        const p = decode(wire.subarray(0, e));
        assert.equal(p.ivec, i === 0);
        assert.equal(p.tag, "seq#");
        if (seq >= 0) assert.equal(p.seq, (seq + 1) >>> 0);
        seq = p.seq;
        assert.equal(toHex(p.filler), "00".repeat(info.blockSize - 8), "zeros after the BE32 seq");
        assert.equal(toHex(p.payload), toHex(pk), "payload intact (no 64-bit vtund zeroing)");
        assert.ok(p.pad >= 1 && p.pad <= info.blockSize);
      }
    });
  }

  it("pads a block-aligned packet with bs-1 random bytes and then bs (ECB)", () => {
    const stage = createCipherStage(9, "pw", { random: (b) => b.fill(0xab) });
    const wire = new Uint8Array(64);
    const e = stage.encode(new Uint8Array(16).fill(1), 0, 16, wire, 0);
    assert.equal(e, 32);
    // Decrypt with the TypeScript AES directly.
    const plain = new Uint8Array(32);
    const ref = createCipherStage(9, "pw", { backend: "pure" });
    assert.equal(ref.decode(wire, 0, 32, plain, 0), 16);
    assert.equal(toHex(plain.subarray(0, 16)), "01".repeat(16));
  });

  it("legacy 999: [n] [n-1 zeros] data, Blowfish-ECB with MD5(password)", () => {
    const stage = createCipherStage(999, "pw");
    const bf = new Blowfish(deriveKey("pw", 16));
    for (const size of [0, 1, 7, 8, 9, 92]) {
      const pk = packet(size, 3);
      const wire = new Uint8Array(128);
      const e = stage.encode(pk, 0, size, wire, 0);
      const n = 8 - (size % 8);
      assert.equal(e, size + n);
      const plain = bf.decryptEcb(wire.subarray(0, e));
      assert.equal(plain[0], n);
      assert.equal(toHex(plain.subarray(1, n)), "00".repeat(n - 1));
      assert.equal(toHex(plain.subarray(n)), toHex(pk));
    }
  });
});

// ---------------------------------------------------------------------------

/** Two stages joined by a lossy wire; dummy requests are served like vtund's link loop does. */
class Pair {
  readonly a: CipherStage;
  readonly b: CipherStage;
  /** Packets each side received (1-byte dummies included). */
  readonly got = { a: [] as string[], b: [] as string[] };
  /** Frames each side sent. */
  readonly sent = { a: [] as Uint8Array[], b: [] as Uint8Array[] };

  constructor(cipher: number, options: CipherStageOptions = {}) {
    this.a = createCipherStage(cipher, "loss test", options);
    this.b = createCipherStage(cipher, "loss test", options);
  }

  /** Sends `packet` from `from`; `drop` loses the frame on the wire. */
  send(from: "a" | "b", packet: Uint8Array, drop = false): void {
    const tx = from === "a" ? this.a : this.b;
    const wire = new Uint8Array(4096);
    const n = tx.encode(packet, 0, packet.length, wire, 0);
    this.sent[from].push(wire.slice(0, n));
    if (!drop) this.receive(from === "a" ? "b" : "a", wire.subarray(0, n));
    this.serveDummy(from);
  }

  private receive(to: "a" | "b", frame: Uint8Array): void {
    const rx = to === "a" ? this.a : this.b;
    const out = new Uint8Array(4096);
    const n = rx.decode(frame, 0, frame.length, out, 0);
    if (n > 0) this.got[to].push(toHex(out.subarray(0, n)));
    this.serveDummy(to);
  }

  private serveDummy(side: "a" | "b"): void {
    const st = side === "a" ? this.a : this.b;
    // vtund sends 1 byte of its stale frame buffer; any byte will do.
    if (st.takeDummyRequest()) this.send(side, Uint8Array.of(0x45));
  }
}

describe("resync (§6.5)", () => {
  for (const cipher of [10, 2, 7]) {
    const info = CIPHERS.get(cipher)!;
    it(`${info.name}: after a lost UDP frame the next packet arrives intact, with no resync (the mode self-synchronizes)`, () => {
      const pair = new Pair(cipher);
      const pk = (i: number) => packet(100 + i, i);
      pair.send("a", pk(1));
      pair.send("b", pk(2));
      pair.send("a", pk(3), true); // lost
      pair.send("a", pk(4)); // only its seq# block decrypts wrong; the packet is intact
      assert.deepEqual(pair.got.b, [toHex(pk(1)), toHex(pk(4))]);
      assert.equal(pair.sent.b.length, 1, "no dummy frame, no rsyn");
      pair.send("b", pk(5));
      pair.send("a", pk(6));
      assert.equal(pair.got.a.at(-1), toHex(pk(5)));
      assert.equal(pair.got.b.at(-1), toHex(pk(6)));
    });
  }

  for (const cipher of [10, 16]) {
    const info = CIPHERS.get(cipher)!;
    it(`${info.name}: an "ivec" frame is taken even while in sequence (the peer re-initialized)`, () => {
      const a = createCipherStage(cipher, "pw", { backend: "pure" });
      const b = createCipherStage(cipher, "pw", { backend: "pure" });
      const wire = new Uint8Array(512);
      const out = new Uint8Array(512);
      const p = packet(60, 1);
      let n = a.encode(p, 0, p.length, wire, 0);
      assert.equal(toHex(out.subarray(0, b.decode(wire, 0, n, out, 0))), toHex(p));
      // A re-initializes (as after an rsyn from B) while B is in sequence.
      const fresh = createCipherStage(cipher, "pw", { backend: "pure" });
      n = fresh.encode(p, 0, p.length, wire, 0);
      assert.equal(toHex(out.subarray(0, b.decode(wire, 0, n, out, 0))), toHex(p), "taken, not dropped");
      n = fresh.encode(p, 0, p.length, wire, 0);
      assert.equal(toHex(out.subarray(0, b.decode(wire, 0, n, out, 0))), toHex(p), "and the new chain continues");
    });
  }

  for (const cipher of [16]) {
    const info = CIPHERS.get(cipher)!;
    it(`${info.name}: a lost UDP frame → rsyn + dummy frames → fresh ivec → traffic recovers`, () => {
      const pair = new Pair(cipher);
      const pk = (i: number) => packet(100 + i, i);
      pair.send("a", pk(1));
      pair.send("b", pk(2));
      assert.deepEqual(pair.got.b, [toHex(pk(1))]);
      assert.deepEqual(pair.got.a, [toHex(pk(2))]);

      pair.send("a", pk(3), true); // lost
      pair.send("a", pk(4)); // B: block after the gap is not "seq#" → drop, dec → INIT, own sender → REQ_INIT
      assert.equal(pair.got.b.length, 1, "frame after the gap dropped");
      assert.equal(pair.sent.b.length, 1, "no dummy yet");

      pair.send("a", pk(5)); // no ivec while B waits for one → gibberish #1 → B sends a dummy with "rsyn"
      assert.equal(pair.got.b.length, 1);
      // B sent two 1-byte dummies: the rsyn one (which forces another) and a seq# one; A got both as 1-byte packets.
      assert.equal(pair.sent.b.length, 3);
      assert.deepEqual(pair.got.a.slice(1), ["45", "45"]);

      pair.send("a", pk(6)); // A re-inits: new ivec header
      assert.equal(pair.sent.a.at(-1)!.length, 2 * info.blockSize + info.blockSize + (Math.floor(106 / info.blockSize) + 1) * info.blockSize);
      assert.deepEqual(pair.got.b.slice(1), [toHex(pk(6))], "traffic recovered");
      pair.send("a", pk(7));
      pair.send("b", pk(8));
      assert.equal(pair.got.b.at(-1), toHex(pk(7)));
      assert.equal(pair.got.a.at(-1), toHex(pk(8)));
    });
  }

  it("the rsyn request is the first 4 bytes of the block before the dummy's payload", () => {
    const a = createCipherStage(12, "pw", { backend: "pure" });
    const b = createCipherStage(12, "pw", { backend: "pure" });
    const decode = referenceDecoder(CIPHERS.get(12)!, "pw");
    const wire = new Uint8Array(256);
    const out = new Uint8Array(256);
    // B has sent nothing yet and receives junk: gibberish #1.
    assert.equal(b.decode(new Uint8Array(64).fill(9), 0, 64, out, 0), 0);
    assert.equal(b.takeDummyRequest(), true);
    assert.equal(b.takeDummyRequest(), false, "true only once");
    // B's dummy: it never had a sender context, so the frame carries ivec + rsyn.
    const e = b.encode(Uint8Array.of(1), 0, 1, wire, 0);
    assert.equal(e, 4 * 16);
    assert.equal(b.takeDummyRequest(), true, "vtund forces another frame after an rsyn");
    if (decode !== null) {
      const p = decode(wire.subarray(0, e));
      assert.equal(p.ivec, true);
      assert.equal(p.tag, "rsyn");
      assert.equal(toHex(p.payload), "01");
    }
    // A had sent a frame before; the rsyn makes its next frame carry a new ivec.
    const first = a.encode(new Uint8Array(20), 0, 20, new Uint8Array(256), 0);
    assert.equal(first, 2 * 16 + 16 + 32);
    assert.equal(toHex(out.subarray(0, a.decode(wire, 0, e, out, 0))), "01", "a 1-byte payload decodes");
    assert.equal(a.encode(new Uint8Array(20), 0, 20, wire, 0), 2 * 16 + 16 + 32, "fresh ivec after rsyn");
    assert.equal(toHex(out.subarray(0, b.decode(wire, 0, 80, out, 0))), "00".repeat(20));
  });

  it(`${MAX_GIBBERISH} frames without ivec re-init the local sender`, () => {
    const a = createCipherStage(14, "pw");
    const wire = new Uint8Array(256);
    const out = new Uint8Array(256);
    assert.equal(a.encode(new Uint8Array(10), 0, 10, wire, 0), 32 + 16 + 16);
    assert.equal(a.encode(new Uint8Array(10), 0, 10, wire, 0), 16 + 16, "sequence state");
    for (let i = 1; i <= MAX_GIBBERISH; i++) {
      assert.equal(a.decode(new Uint8Array(48).fill(i), 0, 48, out, 0), 0);
      assert.equal(a.takeDummyRequest(), i === 1 || i === MAX_GIBBERISH, `frame ${i}`);
      if (i === 1) {
        // The REQ_INIT frame says rsyn without a new ivec (the sender context is still live).
        assert.equal(a.encode(new Uint8Array(10), 0, 10, wire, 0), 32);
        assert.equal(a.takeDummyRequest(), true);
      }
    }
    assert.equal(a.encode(new Uint8Array(10), 0, 10, wire, 0), 32 + 16 + 16, "fresh ivec");
  });

  it("2 s of frames without ivec re-init the local sender too", () => {
    let clock = 1_000_000;
    const a = createCipherStage(6, "pw", { now: () => clock });
    const wire = new Uint8Array(256);
    const out = new Uint8Array(256);
    a.encode(new Uint8Array(10), 0, 10, wire, 0);
    a.decode(new Uint8Array(24), 0, 24, out, 0); // gibberish 1: REQ_INIT + dummy
    assert.equal(a.takeDummyRequest(), true);
    clock += 1999;
    a.decode(new Uint8Array(24), 0, 24, out, 0);
    assert.equal(a.takeDummyRequest(), false);
    clock += 1;
    a.decode(new Uint8Array(24), 0, 24, out, 0);
    assert.equal(a.takeDummyRequest(), true);
    assert.equal(a.encode(new Uint8Array(10), 0, 10, wire, 0), 16 + 8 + 16, "fresh ivec (and rsyn-free: state INIT)");
  });

  it("frames shorter than the ivec header count as gibberish", () => {
    const a = createCipherStage(10, "pw");
    const out = new Uint8Array(64);
    assert.equal(a.decode(new Uint8Array(16), 0, 16, out, 0), 0);
    assert.equal(a.takeDummyRequest(), true);
    assert.equal(a.decode(new Uint8Array(0), 0, 0, out, 0), 0);
  });
});

describe("bad frames", () => {
  it("ECB: a bad pad byte drops the frame and logs; the next frame decodes", () => {
    const logs: string[] = [];
    const a = createCipherStage(1, "pw");
    const b = createCipherStage(1, "pw", { log: (m) => logs.push(m) });
    const wire = new Uint8Array(64);
    const out = new Uint8Array(64);
    const e = a.encode(new Uint8Array(20).fill(3), 0, 20, wire, 0);
    wire[e - 1] ^= 0x55; // garbles the last block
    assert.equal(b.decode(wire, 0, e, out, 0), 0);
    assert.ok(logs.includes("decrypt_buf: bad pad length"));
    const e2 = a.encode(new Uint8Array(20).fill(4), 0, 20, wire, 0);
    assert.equal(toHex(out.subarray(0, b.decode(wire, 0, e2, out, 0))), "04".repeat(20));
    assert.equal(b.decode(wire, 0, e2 - 1, out, 0), 0, "not a whole number of blocks");
  });

  it("legacy: a bad front pad byte drops the frame", () => {
    const logs: string[] = [];
    const b = createCipherStage(999, "pw", { log: (m) => logs.push(m) });
    const bf = new Blowfish(deriveKey("pw", 16));
    const plain = new Uint8Array(16);
    plain[0] = 9;
    assert.equal(b.decode(bf.encryptEcb(plain), 0, 16, new Uint8Array(16), 0), 0);
    assert.ok(logs.includes("legacy_decrypt_buf: bad pad length"));
  });

  it("unknown cipher numbers throw", () => {
    for (const n of [0, 17, 998, 1000, -1]) assert.throws(() => createCipherStage(n, "pw"), /unknown cipher number/);
  });
});
