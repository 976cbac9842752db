/** RecentMax: the highest of the last N samples within a time window. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RecentMax } from "./recent_max.ts";

describe("RecentMax", () => {
  it("keeps the highest sample until it is older than the window", () => {
    const m = new RecentMax(8, 100);
    assert.equal(m.max(0), Number.NEGATIVE_INFINITY, "nothing yet");
    assert.equal(m.add(50, 0), 50);
    assert.equal(m.add(10, 10), 50);
    assert.equal(m.add(20, 99), 50);
    assert.equal(m.max(100), 50, "taken 100 ms ago: still in");
    assert.equal(m.max(101), 20, "101 ms ago: out");
    assert.equal(m.max(300), Number.NEGATIVE_INFINITY);
  });

  it("counts only the last N samples, however recent", () => {
    const m = new RecentMax(3, 1000);
    m.add(90, 0);
    m.add(1, 1);
    m.add(2, 2);
    assert.equal(m.max(2), 90);
    assert.equal(m.add(3, 3), 3, "the fourth sample pushed out the first");
  });
});
