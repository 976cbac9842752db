/**
 * The Bun backend of liblzo2 (liblzo_bun.ts) keeps alive what it hands to C:
 * its work memory was once referenced only by address, the collector freed
 * it, and the compressor then wrote into whatever took its place (a crash of
 * Bun seconds later). Setup installs liblzo2-2; without it this fails.
 * @bun-only (bun:ffi, Bun.gc)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createBunLibLzo } from "./liblzo_bun.ts";
import { LZO1X_1_15_MEM_COMPRESS } from "./liblzo.ts";

describe("liblzo2 through bun:ffi", () => {
  it("after a full collection, compressing writes into its own memory only", () => {
    const lib = createBunLibLzo();
    assert.ok(lib !== null, "liblzo2.so.2 did not load: apt-get install liblzo2-2");
    Bun.gc(true);
    // Memory freed by the collection is handed out again: fill it with a pattern.
    const fillers = Array.from({ length: 64 }, () => new Uint8Array(LZO1X_1_15_MEM_COMPRESS).fill(0xab));
    const src = new Uint8Array(1400);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7919) >>> 3;
    const dst = new Uint8Array(4096);
    const back = new Uint8Array(2048);
    for (let round = 0; round < 20; round++) {
      const n: number = lib.compress(src, 0, src.length, dst, 0);
      assert.ok(n > 0, `compress returned ${n}`);
      assert.equal(lib.decompress(dst, 0, n, back, 0, back.length), src.length);
      assert.deepEqual(back.subarray(0, src.length), src);
    }
    fillers.forEach((f, i) => assert.ok(f.every((b) => b === 0xab), `buffer ${i}, allocated after the collection, was written by the compressor`));
  });
});
