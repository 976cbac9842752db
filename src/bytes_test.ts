/**
 * Data-path buffers: allocBytes hands out separate zeroed buffers from one
 * arena, copyBytes copies between them, within one of them (overlapping) and
 * to ordinary arrays alike, and refuses out-of-bounds copies instead of
 * spilling into a neighbouring buffer.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { allocBytes, copyBytes } from "./bytes.ts";

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("allocBytes", () => {
  it("returns zeroed buffers of the asked size that do not overlap", () => {
    const a = allocBytes(100);
    const b = allocBytes(3000);
    assert.equal(a.length, 100);
    assert.equal(b.length, 3000);
    assert.ok(a.every((x) => x === 0) && b.every((x) => x === 0));
    a.fill(0xaa);
    assert.ok(b.every((x) => x === 0), "writing one buffer changed the other");
    assert.equal(a.buffer, b.buffer, "both come from the arena");
    assert.equal(b.byteOffset % 64, 0, "cache-line aligned");
  });

  it("falls back to ordinary arrays when the arena is used up", () => {
    const big = allocBytes(4 * 1024 * 1024);
    assert.equal(big.length, 4 * 1024 * 1024);
    assert.notEqual(big.buffer, allocBytes(16).buffer);
  });
});

describe("copyBytes", () => {
  it("copies between arena buffers", () => {
    const src = allocBytes(2000);
    const dst = allocBytes(2000);
    src.set(pattern(2000, 7));
    copyBytes(src, 10, 1400, dst, 300);
    assert.deepEqual(dst.subarray(300, 1700), pattern(2000, 7).subarray(10, 1410));
    assert.equal(dst[299], 0);
    assert.equal(dst[1700], 0);
  });

  it("copies every small length between arena buffers exactly, touching nothing around", () => {
    // Small copies take the word loop (4 bytes at a time, then the rest): every length and alignment.
    const src = allocBytes(400);
    const dst = allocBytes(400);
    src.set(pattern(400, 11));
    for (let length = 0; length <= 300; length++) {
      for (const [from, to] of [[0, 0], [1, 6], [3, 2], [7, 13]] as const) {
        dst.fill(0xee);
        copyBytes(src, from, length, dst, to);
        assert.deepEqual(dst.subarray(to, to + length), pattern(400, 11).subarray(from, from + length), `length ${length} ${from}->${to}`);
        assert.ok(dst.subarray(0, to).every((x) => x === 0xee), `bytes before the copy changed (length ${length})`);
        assert.ok(dst.subarray(to + length).every((x) => x === 0xee), `bytes after the copy changed (length ${length})`);
      }
    }
  });

  it("copies small overlapping ranges of one arena buffer like memmove, both ways", () => {
    for (const [from, to, length] of [[0, 1, 40], [0, 3, 41], [0, 4, 100], [10, 0, 57], [2, 1, 9], [5, 5, 20]] as const) {
      const buf = allocBytes(200);
      buf.set(pattern(200, 5));
      copyBytes(buf, from, length, buf, to);
      const want = pattern(200, 5);
      want.copyWithin(to, from, from + length);
      assert.deepEqual(buf, want, `${length} bytes from ${from} to ${to}`);
    }
  });

  it("copies between two overlapping views of one ArrayBuffer like memmove, small and large", () => {
    for (const length of [9, 84, 128, 129, 300]) {
      for (const shift of [-7, -1, 1, 5, 64]) {
        const whole = pattern(1000, 3);
        const a = whole.subarray(100, 700);
        const b = whole.subarray(100 + shift, 700 + shift);
        copyBytes(a, 50, length, b, 50); // to = from + shift in the ArrayBuffer
        const want = pattern(1000, 3);
        want.copyWithin(150 + shift, 150, 150 + length);
        assert.deepEqual(whole, want, `${length} bytes shifted by ${shift}`);
      }
    }
  });

  it("copies between buffers of two different arenas", () => {
    const first = allocBytes(64);
    first.set(pattern(64, 2));
    // Two halves of an arena cannot both fit beside `first` (nor beside the reserved bytes): a new one starts.
    allocBytes(1024 * 1024);
    allocBytes(1024 * 1024);
    const other = allocBytes(64);
    assert.notEqual(other.buffer, first.buffer);
    copyBytes(first, 3, 50, other, 7);
    assert.deepEqual(other.subarray(7, 57), pattern(64, 2).subarray(3, 53));
    assert.equal(other[6], 0);
    assert.equal(other[57], 0);
  });

  it("copies overlapping ranges of one buffer like memmove", () => {
    const buf = allocBytes(100);
    buf.set(pattern(100, 1));
    copyBytes(buf, 0, 60, buf, 20);
    assert.deepEqual(buf.subarray(20, 80), pattern(100, 1).subarray(0, 60));
    const plain = pattern(50, 3);
    copyBytes(plain, 10, 30, plain, 0);
    assert.deepEqual(plain.subarray(0, 30), pattern(50, 3).subarray(10, 40));
  });

  it("copies to and from ordinary arrays", () => {
    const arena = allocBytes(64);
    const plain = pattern(64, 9);
    copyBytes(plain, 4, 32, arena, 8);
    assert.deepEqual(arena.subarray(8, 40), plain.subarray(4, 36));
    const out = new Uint8Array(64);
    copyBytes(arena, 8, 32, out, 0);
    assert.deepEqual(out.subarray(0, 32), plain.subarray(4, 36));
  });

  it("refuses copies outside either buffer", () => {
    const a = allocBytes(64);
    const b = allocBytes(64);
    b.fill(5);
    assert.throws(() => copyBytes(a, 0, 65, b, 0), RangeError);
    assert.throws(() => copyBytes(a, 0, 32, b, 40), RangeError);
    assert.throws(() => copyBytes(a, -1, 8, b, 0), RangeError);
    assert.ok(b.every((x) => x === 5), "nothing written by a refused copy");
  });
});
