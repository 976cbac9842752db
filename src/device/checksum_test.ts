/**
 * Internet checksum helpers against a naive reference (test/fakes/packets.ts):
 * every alignment and length, published vectors, pseudo headers, and
 * finishing partial checksums.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ACK, buildPacket, parse, pattern, refPseudo, refSum, tsOption } from "../../test/fakes/packets.ts";
import {
  checksum,
  fillL4Checksum,
  finishPartialChecksum,
  fixIpv4HeaderChecksum,
  fold,
  onesSum,
  pseudoSumV4,
  pseudoSumV6,
} from "./checksum.ts";
import { createWordSum, WORD_SUM_MAX } from "./checksum_wasm.ts";
import { allocBytes, arenaMemory } from "../bytes.ts";

describe("onesSum", () => {
  it("matches RFC 1071's worked example", () => {
    const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    assert.equal(onesSum(b, 0, 8), 0xddf2);
    assert.equal(checksum(b, 0, 8), 0x220d);
  });

  it("matches the reference at every alignment and length (fast and short paths)", () => {
    const data = pattern(4096 + 8, 7);
    for (const base of [0, 1]) {
      // base 1: a view whose byteOffset is odd, so even `off` is an odd address.
      const view = data.subarray(base);
      for (let off = 0; off < 4; off++) {
        for (const len of [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 100, 1447, 1448, 1449, 4000]) {
          assert.equal(onesSum(view, off, len), refSum(view.subarray(off, off + len)), `base ${base} off ${off} len ${len}`);
        }
      }
    }
  });

  it("handles 64 KiB and larger ranges without losing carries", () => {
    const ones = new Uint8Array(200_000).fill(0xff);
    assert.equal(onesSum(ones, 0, 65536), refSum(ones.subarray(0, 65536)));
    assert.equal(onesSum(ones, 1, 65535), refSum(ones.subarray(1, 65536)));
    const data = pattern(200_000, 3);
    assert.equal(onesSum(data, 2, 199_990), refSum(data.subarray(2, 199_992)));
    assert.equal(onesSum(data, 3, 199_990), refSum(data.subarray(3, 199_993)));
  });

  it("adds the initial value with end-around carry, and keeps separate buffers apart", () => {
    const a = pattern(1000, 1);
    const b = pattern(1000, 2);
    for (let i = 0; i < 3; i++) {
      assert.equal(onesSum(a, 0, 1000, 0x1fffe), refSum(a, 0x1fffe));
      assert.equal(onesSum(b, 0, 1000, 5), refSum(b, 5));
    }
    assert.equal(fold(0x1_0000_0000 * 3 + 0x1_ffff), fold(3 + 0x1_ffff));
  });
});

describe("onesSum over the arena (WebAssembly SIMD)", () => {
  /** The native-word sum of [at, at+len) folded to 16 bits, as the SIMD loop defines it. */
  const refNative = (bytes: Uint8Array, at: number, len: number) => {
    let t = 0;
    for (let i = at; i < at + len; i += 2) t += bytes[i]! | (bytes[i + 1]! << 8);
    while (t > 0xffff) t = (t % 0x10000) + Math.floor(t / 0x10000);
    return t;
  };

  it("the SIMD word sum compiles and sums whole 16-byte blocks, up to 64 KiB of 0xffff words", () => {
    const memory = new WebAssembly.Memory({ initial: 3, maximum: 3 });
    const sum = createWordSum(memory);
    assert.ok(sum, "WebAssembly SIMD module did not compile in this runtime");
    const bytes = new Uint8Array(memory.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >>> 9)) & 0xff;
    for (const at of [0, 2, 14, 16, 30, 1000]) {
      for (const len of [0, 15, 16, 31, 32, 33, 48, 1448, 65536 - 16, WORD_SUM_MAX]) {
        assert.equal(sum(at, len), refNative(bytes, at, len & ~15), `at ${at} len ${len}`);
      }
    }
    bytes.fill(0xff);
    assert.equal(sum(0, WORD_SUM_MAX), refNative(bytes, 0, WORD_SUM_MAX), "no lane overflow");
  });

  it("onesSum of arena buffers matches the reference for every offset parity and length", () => {
    const buf = allocBytes(4096 + 64);
    assert.ok(arenaMemory(buf.buffer), "the arena is WebAssembly memory");
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 7919 + (i >>> 9)) & 0xff;
    for (const off of [0, 1, 2, 3, 14, 15, 16, 17, 63]) {
      for (const len of [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 1447, 1448, 1460, 4000, 4096]) {
        assert.equal(onesSum(buf, off, len), refSum(buf.subarray(off, off + len)), `off ${off} len ${len}`);
      }
    }
    buf.fill(0xff);
    assert.equal(checksum(buf, 0, 4096, 0x1fffe), ~refSum(buf.subarray(0, 4096), 0x1fffe) & 0xffff);
  });
});

describe("header checksums", () => {
  it("computes the IPv4 header checksum of a known header", () => {
    // Wikipedia's example header: checksum 0xb861.
    const h = new Uint8Array([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);
    fixIpv4HeaderChecksum(h, 0, 20);
    assert.equal((h[10]! << 8) | h[11]!, 0xb861);
  });

  it("pseudo-header sums match the reference for IPv4 and IPv6", () => {
    for (const v6 of [false, true]) {
      const p = buildPacket({ v6, payload: pattern(300) });
      const ipHdr = v6 ? 40 : 20;
      const mine = v6 ? pseudoSumV6(p, 0, 6, p.length - ipHdr) : pseudoSumV4(p, 0, 6, p.length - ipHdr);
      assert.equal(fold(mine), refSum(new Uint8Array(0), refPseudo(p, 6, p.length - ipHdr)));
      // A full L4 checksum computed with it verifies.
      p[ipHdr + 16] = 0x12;
      fillL4Checksum(p, ipHdr, p.length - ipHdr, 16, mine);
      assert.ok(parse(p).l4ChecksumOk);
    }
  });
});

describe("finishPartialChecksum (NEEDS_CSUM)", () => {
  for (const v6 of [false, true]) {
    it(`finishes a pure ACK with timestamps (${v6 ? "IPv6" : "IPv4"})`, () => {
      const full = buildPacket({ v6, flags: ACK, options: tsOption(1, 2) });
      const partial = buildPacket({ v6, flags: ACK, options: tsOption(1, 2), partial: true });
      assert.ok(!parse(partial).l4ChecksumOk);
      const ipHdr = v6 ? 40 : 20;
      assert.ok(finishPartialChecksum(partial, 0, partial.length, ipHdr, 16));
      assert.deepEqual(partial, full);
    });

    it(`finishes a UDP datagram and never leaves 0 (${v6 ? "IPv6" : "IPv4"})`, () => {
      for (let seed = 1; seed < 40; seed++) {
        const p = buildPacket({ v6, proto: "udp", payload: pattern(seed * 3, seed), partial: true });
        const at = 2 + (v6 ? 40 : 20); // a buffer with the packet at an offset
        const buf = new Uint8Array(at + p.length);
        buf.set(p, at);
        const ipHdr = v6 ? 40 : 20;
        assert.ok(finishPartialChecksum(buf, at, p.length, ipHdr, 6));
        const r = parse(buf.subarray(at));
        assert.ok(r.l4ChecksumOk);
        assert.notEqual(r.l4Field, 0);
      }
    });
  }

  it("refuses offsets beyond the packet", () => {
    const p = buildPacket({});
    assert.equal(finishPartialChecksum(p, 0, p.length, p.length - 10, 10), false);
  });
});
