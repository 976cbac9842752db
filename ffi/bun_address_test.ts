/**
 * The address cache of the Bun backend (bun_address.ts): the address of
 * `buf[offset]` for large buffers from one `ptr()` per buffer while it is
 * among the last few, and `ptr()` as before for small ones, whose storage
 * may move.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ptr } from "bun:ffi";
import { ADDRESS_SLOTS, addressCache, STABLE_BYTES } from "./bun_address.ts";

describe("addressCache", () => {
  it("gives ptr(buf) + offset for a large buffer, also after another buffer came in between", () => {
    const at = addressCache();
    const first = new Uint8Array(65536);
    const second = new Uint8Array(new ArrayBuffer(3 * STABLE_BYTES), STABLE_BYTES, 2 * STABLE_BYTES);
    for (const [buf, offset] of [[first, 0], [first, 1500], [second, 0], [second, 77], [first, 65535]] as const) {
      assert.equal(at(buf, offset), (ptr(buf) as number) + offset, `offset ${offset} of a ${buf.byteLength}-byte buffer`);
    }
  });

  it("takes a small buffer as it is at offset 0, else through ptr(buf, offset), and remembers none", () => {
    const at = addressCache();
    const small = new Uint8Array(STABLE_BYTES - 1);
    assert.equal(at(small, 0), small);
    assert.equal(at(small, 10), ptr(small, 10));
    const large = new Uint8Array(STABLE_BYTES);
    assert.equal(at(large, 5), (ptr(large) as number) + 5);
    assert.equal(at(small, 0), small, "a small buffer after a large one");
  });

  it("asks for each of a few buffers used in turn once, and again only after more came in between", () => {
    const asked: Uint8Array[] = [];
    const at = addressCache((buf, offset) => {
      asked.push(buf);
      return ptr(buf, offset);
    });
    const bufs = Array.from({ length: ADDRESS_SLOTS + 1 }, () => new Uint8Array(STABLE_BYTES));
    const inTurn = bufs.slice(0, ADDRESS_SLOTS);
    for (let round = 0; round < 3; round++) {
      for (const [i, buf] of inTurn.entries()) assert.equal(at(buf, i), (ptr(buf) as number) + i);
    }
    assert.equal(asked.length, ADDRESS_SLOTS, "one ptr() per buffer over three rounds");
    assert.equal(at(bufs[ADDRESS_SLOTS]!, 3), (ptr(bufs[ADDRESS_SLOTS]!) as number) + 3);
    assert.equal(asked.length, ADDRESS_SLOTS + 1);
    assert.equal(at(bufs[0]!, 0), ptr(bufs[0]!), "the oldest was replaced");
    assert.equal(asked.length, ADDRESS_SLOTS + 2);
    assert.equal(at(bufs[ADDRESS_SLOTS - 1]!, 0), ptr(bufs[ADDRESS_SLOTS - 1]!), "the newest are kept");
    assert.equal(asked.length, ADDRESS_SLOTS + 2);
  });
});
