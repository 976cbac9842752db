import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../ffi/index.ts";
import { compileSeparately } from "./jit_hints.ts";

describe("compileSeparately", () => {
  it("applies JavaScriptCore's noInline on Bun, and nothing on V8", () => {
    const sum = (a: number, b: number) => a + b;
    assert.equal(compileSeparately(sum), detectRuntime() === "bun");
  });

  it("leaves the function working the same, also once hot", () => {
    let calls = 0;
    const add = (a: number, b: number) => {
      calls++;
      return (a + b) | 0;
    };
    compileSeparately(add);
    // Enough calls for every tier to compile the caller's loop and the callee.
    let total = 0;
    for (let i = 0; i < 200_000; i++) total = add(total, i & 7);
    assert.equal(calls, 200_000);
    assert.equal(total, 25_000 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7), "(i & 7) summed over 200000 calls: 25000 cycles of 0..7");
  });
});
