/**
 * LZO1X in TypeScript: the LZO1X-999 frames real vtund sent (tcp-lzo9.json)
 * decode to the captured packets; round trips over sizes 0..2048 of several
 * kinds of data and both dictionary sizes; the worst-case bound; reuse of
 * the work memory (including the wrap of its position tags); and malformed
 * input — truncated, corrupt distances, oversized output, trailing bytes —
 * throws an LzoError instead of reading or writing outside the given ranges.
 * The comparison with the C library is in lzo1x_liblzo_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  LZO1X_1_15_BITS,
  LZO1X_1_BITS,
  LzoError,
  Lzo1xWorkmem,
  lzo1xCompress,
  lzo1xDecompress,
  lzo1xWorstCase,
  type LzoErrorCode,
} from "./lzo1x.ts";
import { capturedFrames, prng, sample, SAMPLE_KINDS } from "./testing.ts";
import { fromHex, toHex } from "../../test/vectors/vectors.ts";

function compress(data: Uint8Array, wm?: Lzo1xWorkmem): Uint8Array {
  const out = new Uint8Array(lzo1xWorstCase(data.length));
  const n = lzo1xCompress(data, 0, data.length, out, 0, wm);
  assert.ok(n <= lzo1xWorstCase(data.length));
  return out.slice(0, n);
}

function decompress(data: Uint8Array, max = 1 << 20): Uint8Array {
  const out = new Uint8Array(max);
  const n = lzo1xDecompress(data, 0, data.length, out, 0, max);
  return out.slice(0, n);
}

function throwsLzo(fn: () => unknown, code: LzoErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof LzoError && e.code === code, `expected LzoError ${code}`);
}

describe("lzo1x: captured vtund frames (tcp-lzo9.json, LZO1X-999)", () => {
  const cap = capturedFrames("tcp-lzo9.json");
  for (const dir of ["c2s", "s2c"] as const) {
    it(`${dir}: every frame decodes to its packet`, () => {
      const { frames, packets } = cap[dir];
      assert.equal(frames.length, 3);
      assert.equal(packets.length, 3);
      frames.forEach((f, i) => {
        assert.ok(f.length < 64, "the 92-byte packets compress to about 58 bytes");
        assert.equal(toHex(decompress(f, 2048)), toHex(packets[i]!));
      });
    });
  }
  it("decodes at an offset into a larger output buffer", () => {
    const f = cap.c2s.frames[0]!;
    const src = new Uint8Array(f.length + 7);
    src.set(f, 5);
    const out = new Uint8Array(300).fill(0xee);
    const n = lzo1xDecompress(src, 5, f.length, out, 100, 92);
    assert.equal(n, 92);
    assert.equal(toHex(out.subarray(100, 192)), toHex(cap.c2s.packets[0]!));
    assert.ok(out.subarray(0, 100).every((b) => b === 0xee) && out.subarray(192).every((b) => b === 0xee));
  });
});

describe("lzo1x: round trips", () => {
  for (const bits of [LZO1X_1_BITS, LZO1X_1_15_BITS]) {
    for (const kind of SAMPLE_KINDS) {
      it(`${kind} data, every size 0..2048, ${bits}-bit dictionary, one reused work memory`, () => {
        const wm = new Lzo1xWorkmem(bits);
        const out = new Uint8Array(lzo1xWorstCase(2048));
        const back = new Uint8Array(2048);
        for (let size = 0; size <= 2048; size++) {
          const data = sample(kind, size, size * 7 + bits);
          const n = lzo1xCompress(data, 0, size, out, 0, wm);
          assert.ok(n <= lzo1xWorstCase(size), `size ${size}: ${n} bytes exceeds the bound`);
          const m = lzo1xDecompress(out, 0, n, back, 0, size);
          assert.equal(m, size);
          if (toHex(back.subarray(0, size)) !== toHex(data)) assert.fail(`${kind} size ${size}: round trip differs`);
        }
      });
    }
  }

  it("compresses what compresses", () => {
    assert.ok(compress(new Uint8Array(2048)).length < 40);
    assert.ok(compress(sample("packet", 1400, 1)).length < 1400 * 0.8);
    assert.ok(compress(sample("repetitive", 2048, 3)).length < 2048 / 8);
  });

  it("output is the minimal forms for tiny inputs", () => {
    assert.equal(toHex(compress(new Uint8Array(0))), "110000");
    assert.equal(toHex(compress(fromHex("41"))), "12411100" + "00");
    assert.equal(toHex(compress(fromHex("4142434445"))), "16414243444511" + "0000");
  });

  it("handles inputs larger than one 49152-byte block (and long literal and match runs)", () => {
    const big = new Uint8Array(200_000);
    big.set(sample("random", 70_000, 5), 0); // a literal run longer than one block
    big.set(sample("packet", 60_000, 6), 130_000); // the zeros in between are one long match
    const wm = new Lzo1xWorkmem();
    const c = compress(big, wm);
    assert.ok(c.length < 70_000 + 60_000);
    assert.equal(toHex(decompress(c, big.length)), toHex(big));
  });

  it("works at offsets into larger buffers and leaves the bytes around alone", () => {
    const data = sample("packet", 1400, 9);
    const src = new Uint8Array(1500);
    src.set(data, 33);
    const dst = new Uint8Array(3000).fill(0xaa);
    const n = lzo1xCompress(src, 33, 1400, dst, 100);
    assert.ok(dst.subarray(0, 100).every((b) => b === 0xaa));
    assert.ok(dst.subarray(100 + n).every((b) => b === 0xaa));
    assert.equal(toHex(decompress(dst.slice(100, 100 + n), 1400)), toHex(data));
  });

  it("a reused work memory gives the same output as a fresh one, also across the tag wrap", () => {
    const wm = new Lzo1xWorkmem();
    for (let i = 0; i < 20; i++) {
      const data = sample(i % 2 === 0 ? "packet" : "repetitive", 100 + i * 97, i);
      assert.equal(toHex(compress(data, wm)), toHex(compress(data, new Lzo1xWorkmem())));
    }
    // Use up the tag space: the next blocks start over with a cleared dictionary.
    wm.takeEpoch(0xffffffff - 3000);
    for (let i = 0; i < 5; i++) {
      const data = sample("packet", 1400, 100 + i);
      assert.equal(toHex(compress(data, wm)), toHex(compress(data, new Lzo1xWorkmem())));
    }
  });

  it("refuses an output buffer below the worst case and bad ranges", () => {
    const data = sample("random", 100, 1);
    throwsLzo(() => lzo1xCompress(data, 0, 100, new Uint8Array(lzo1xWorstCase(100) - 1), 0), "bad-argument");
    throwsLzo(() => lzo1xCompress(data, 50, 51, new Uint8Array(1000), 0), "bad-argument");
    throwsLzo(() => lzo1xCompress(data, -1, 10, new Uint8Array(1000), 0), "bad-argument");
    throwsLzo(() => lzo1xDecompress(data, 0, 10, new Uint8Array(10), 5, 6), "bad-argument");
    assert.throws(() => new Lzo1xWorkmem(20), LzoError);
  });
});

describe("lzo1x: malformed input throws", () => {
  const packet = sample("packet", 1400, 42);
  const good = compress(packet);

  it("empty input", () => throwsLzo(() => decompress(new Uint8Array(0)), "input-overrun"));

  it("every truncation of a valid stream", () => {
    for (let cut = 0; cut < good.length; cut++) {
      assert.throws(() => decompress(good.subarray(0, cut), 2048), LzoError, `cut at ${cut}`);
    }
  });

  it("bytes after the end marker", () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    throwsLzo(() => decompress(longer, 2048), "input-not-consumed");
  });

  it("output larger than allowed", () => {
    throwsLzo(() => decompress(good, 1399), "output-overrun");
    const zeros = compress(new Uint8Array(4096));
    throwsLzo(() => decompress(zeros, 2048), "output-overrun");
    assert.equal(decompress(zeros, 4096).length, 4096);
    // A huge literal-run length made of zero bytes stops early.
    throwsLzo(() => decompress(fromHex("00" + "00".repeat(100) + "01"), 2048), "output-overrun");
  });

  it("matches that reach before the start of the output", () => {
    // 4 literals then an M2 match at distance 8.
    throwsLzo(() => decompress(fromHex("0141424344" + "5c00" + "110000")), "lookbehind-overrun");
    // an M3 match at distance 100 after 4 literals
    throwsLzo(() => decompress(fromHex("0141424344" + "218c01" + "110000")), "lookbehind-overrun");
    // an M4 match at distance 16385
    throwsLzo(() => decompress(fromHex("0141424344" + "110400" + "110000")), "lookbehind-overrun");
    // a 3-byte far match right after a literal run
    throwsLzo(() => decompress(fromHex("0141424344" + "0000" + "110000")), "lookbehind-overrun");
    // state literals then an M1 match at distance 3 with only 2 bytes written
    throwsLzo(() => decompress(fromHex("134142" + "0800" + "110000")), "lookbehind-overrun");
    // the same at distance 2 is fine: "AB" then "AB"
    assert.equal(new TextDecoder().decode(decompress(fromHex("134142" + "0400" + "110000"))), "ABAB");
  });

  it("random corruption never escapes the given ranges", () => {
    const next = prng(7);
    const src = new Uint8Array(good.length + 64);
    const dst = new Uint8Array(4096);
    let errors = 0;
    for (let i = 0; i < 5000; i++) {
      src.fill(0x5a);
      src.set(good, 32);
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) src[32 + (next() % good.length)] = next() & 0xff;
      dst.fill(0x77);
      try {
        const n = lzo1xDecompress(src, 32, good.length, dst, 1024, 2048);
        assert.ok(n <= 2048);
      } catch (e) {
        if (!(e instanceof LzoError)) throw e;
        errors++;
      }
      assert.ok(dst.subarray(0, 1024).every((b) => b === 0x77), "wrote before dstAt");
      assert.ok(dst.subarray(1024 + 2048).every((b) => b === 0x77), "wrote past dstAt + dstMax");
    }
    assert.ok(errors > 1000, `only ${errors} of 5000 corrupted streams were rejected`);
  });

  it("random garbage never escapes the given ranges", () => {
    const next = prng(11);
    const dst = new Uint8Array(4096);
    for (let i = 0; i < 5000; i++) {
      const junk = new Uint8Array(1 + (next() % 200));
      for (let k = 0; k < junk.length; k++) junk[k] = next() & 0xff;
      dst.fill(0x77);
      try {
        lzo1xDecompress(junk, 0, junk.length, dst, 1024, 2048);
      } catch (e) {
        if (!(e instanceof LzoError)) throw e;
      }
      assert.ok(dst.subarray(0, 1024).every((b) => b === 0x77) && dst.subarray(3072).every((b) => b === 0x77));
    }
  });
});
