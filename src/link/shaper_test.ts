import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Shaper, shaperRate } from "./shaper.ts";

describe("Shaper", () => {
  it("uses vtund's rate formula: kbit/8*1024 + 400 bytes/s", () => {
    assert.equal(shaperRate(64), 8592);
    assert.equal(shaperRate(1000), 128400);
  });

  it("lets a burst through, then holds back until tokens refill", () => {
    let t = 0;
    const s = new Shaper(64, () => t);
    let sent = 0;
    while (s.allows()) {
      s.consume(1000);
      sent += 1000;
    }
    assert.ok(sent >= s.burst && sent < s.burst + 1000, `burst ${sent}`);
    const wait = s.msUntilAllowed();
    assert.ok(wait > 0 && wait <= 1000 / s.rate * 1000 + 2, `wait ${wait}`);
    t += wait;
    assert.ok(s.allows());
  });

  it("over a long run the throughput matches the rate", () => {
    let t = 0;
    const s = new Shaper(512, () => t);
    let sent = 0;
    while (t < 10_000) {
      if (s.allows()) {
        s.consume(1400);
        sent += 1400;
      } else {
        t += s.msUntilAllowed();
      }
    }
    const rate = sent / 10;
    assert.ok(Math.abs(rate - shaperRate(512)) / shaperRate(512) < 0.1, `rate ${rate}`);
  });
});
