/**
 * Blowfish-ECB in WebAssembly (blowfish_wasm.ts) against the JavaScript path:
 * arena buffers take the WebAssembly loop, ordinary arrays the JavaScript
 * one, and both must give the same bytes for every length around the
 * four-block stride, in place and with the destination before the source,
 * with keys changing on one arena and across arenas. Where the runtime runs
 * the module at all (it must on Bun, Deno and Node), this is what proves it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { allocBytes, arenaMemory } from "../bytes.ts";
import { Blowfish } from "./blowfish.ts";
import { assemble, wasmEcb } from "./blowfish_wasm.ts";

const keyOf = (seed: number, length = 16) => new Uint8Array(length).map((_, i) => (i * 29 + seed * 7 + 1) & 255);

/** The JavaScript path's result: ordinary arrays never go to WebAssembly. */
function reference(bf: Blowfish, decrypt: boolean, data: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(data);
  if (decrypt) bf.decryptEcbInto(copy, 0, copy.length, copy, 0);
  else bf.encryptEcbInto(copy, 0, copy.length, copy, 0);
  return copy;
}

describe("Blowfish-ECB in WebAssembly", () => {
  it("is a valid module that every runtime here compiles, over an arena", () => {
    assert.ok(WebAssembly.validate(assemble()), "the assembled module validates");
    const buf = allocBytes(64);
    assert.ok(arenaMemory(buf.buffer) !== null, "arena buffers are WebAssembly memory");
    const bf = new Blowfish(keyOf(1));
    assert.equal(wasmEcb((bf as unknown as { schedule: never }).schedule, false, buf, 0, 64, buf, 0), true, "arena buffers go through WebAssembly");
    assert.equal(wasmEcb((bf as unknown as { schedule: never }).schedule, false, new Uint8Array(64), 0, 64, new Uint8Array(64), 0), false, "ordinary arrays do not");
  });

  it("matches Eric Young's vector through an arena buffer", () => {
    const bf = new Blowfish(Uint8Array.from([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]));
    const buf = allocBytes(8);
    buf.set([0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
    bf.encryptEcbInto(buf, 0, 8, buf, 0);
    assert.deepEqual([...buf], [0x61, 0xf9, 0xc3, 0x80, 0x22, 0x81, 0xb0, 0x96]);
    bf.decryptEcbInto(buf, 0, 8, buf, 0);
    assert.deepEqual([...buf], [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
  });

  it("gives the JavaScript path's bytes for every length, offset, direction and overlap", () => {
    const bf = new Blowfish(keyOf(2));
    const src = allocBytes(4200);
    const dst = allocBytes(4200);
    for (const length of [8, 16, 24, 32, 40, 56, 64, 72, 1400, 1408, 2048, 4096]) {
      for (const decrypt of [false, true]) {
        const data = new Uint8Array(randomBytes(length));
        const want = reference(bf, decrypt, data);
        const run = (s: Uint8Array, sAt: number, d: Uint8Array, dAt: number) =>
          decrypt ? bf.decryptEcbInto(s, sAt, length, d, dAt) : bf.encryptEcbInto(s, sAt, length, d, dAt);
        // Separate buffers, odd offsets.
        src.set(data, 3);
        dst.fill(0xee);
        run(src, 3, dst, 5);
        assert.deepEqual(dst.subarray(5, 5 + length), want, `${length} B ${decrypt ? "dec" : "enc"} to another buffer`);
        assert.equal(dst[4], 0xee, "nothing written before the range");
        assert.equal(dst[5 + length], 0xee, "nothing written after the range");
        // In place.
        src.set(data, 0);
        run(src, 0, src, 0);
        assert.deepEqual(src.subarray(0, length), want, `${length} B in place`);
        // Destination 8 and 12 bytes before the source, in one buffer.
        for (const back of [8, 12]) {
          src.set(data, 40);
          run(src, 40, src, 40 - back);
          assert.deepEqual(src.subarray(40 - back, 40 - back + length), want, `${length} B moved back ${back}`);
        }
      }
    }
  });

  it("reloads the key schedule when another key uses the same arena, and keeps arenas apart", () => {
    const one = new Blowfish(keyOf(3));
    const two = new Blowfish(keyOf(4, 32));
    const data = new Uint8Array(randomBytes(1400));
    const a = allocBytes(1400);
    for (let round = 0; round < 3; round++) {
      for (const bf of [one, two]) {
        a.set(data);
        bf.encryptEcbInto(a, 0, 1400, a, 0);
        assert.deepEqual(a, reference(bf, false, data), `round ${round}`);
      }
    }
    // A buffer of another arena (two halves of an arena cannot share one) has its own key slot.
    allocBytes(1024 * 1024);
    allocBytes(1024 * 1024);
    const b = allocBytes(1400);
    assert.notEqual(b.buffer, a.buffer);
    for (const [buf, bf] of [[a, one], [b, two], [a, one], [b, one], [a, two]] as const) {
      buf.set(data);
      bf.encryptEcbInto(buf, 0, 1400, buf, 0);
      assert.deepEqual(buf, reference(bf, false, data));
    }
  });

  it("leaves the JavaScript path to buffers of two different arenas", () => {
    const bf = new Blowfish(keyOf(5));
    const a = allocBytes(64);
    allocBytes(1024 * 1024);
    allocBytes(1024 * 1024);
    const b = allocBytes(64);
    const data = new Uint8Array(randomBytes(64));
    a.set(data);
    bf.encryptEcbInto(a, 0, 64, b, 0);
    assert.deepEqual(b, reference(bf, false, data));
  });
});
