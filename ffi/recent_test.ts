/** rememberRecent (recent.ts): one computation per key while it is among the last few, by identity. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RECENT_SLOTS, rememberRecent } from "./recent.ts";

describe("rememberRecent", () => {
  it("computes each of a few keys used in turn once, and again only after more came in between", () => {
    const computed: object[] = [];
    const lengthOf = rememberRecent((key: Uint8Array) => {
      computed.push(key);
      return key.length;
    });
    const keys = Array.from({ length: RECENT_SLOTS + 1 }, (_, i) => new Uint8Array(i + 1));
    for (let round = 0; round < 3; round++) {
      for (const [i, key] of keys.slice(0, RECENT_SLOTS).entries()) assert.equal(lengthOf(key), i + 1);
    }
    assert.equal(computed.length, RECENT_SLOTS, "one computation per key over three rounds");
    assert.equal(lengthOf(keys[RECENT_SLOTS]!), RECENT_SLOTS + 1);
    assert.equal(lengthOf(keys[0]!), 1);
    assert.deepEqual(computed.slice(RECENT_SLOTS), [keys[RECENT_SLOTS], keys[0]], "the oldest was replaced, then asked for again");
    assert.equal(lengthOf(keys[RECENT_SLOTS - 1]!), RECENT_SLOTS);
    assert.equal(computed.length, RECENT_SLOTS + 2, "the newest are kept");
  });

  it("tells equal-looking keys apart and remembers a null result", () => {
    let calls = 0;
    const none = rememberRecent((_key: Uint8Array) => {
      calls++;
      return null;
    });
    const a = new Uint8Array(8), b = new Uint8Array(8);
    assert.equal(none(a), null);
    assert.equal(none(a), null);
    assert.equal(none(b), null);
    assert.equal(calls, 2);
  });
});
