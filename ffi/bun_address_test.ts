/**
 * The address cache of the Bun backend (bun_address.ts): the address of
 * `buf[offset]` for large buffers from one `ptr()` per buffer, and `ptr()`
 * as before for small ones, whose storage may move.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ptr } from "bun:ffi";
import { addressCache, STABLE_BYTES } from "./bun_address.ts";

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
});
