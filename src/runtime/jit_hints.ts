/**
 * Hints to the JavaScript engine's optimizing compiler for the data path.
 *
 * JavaScriptCore (Bun) inlines a monomorphic callback into its caller. On
 * the data path that merges whole layers into one compile unit: the TUN
 * splitter's `split()` took in the link's per-packet callback, and with it
 * the pipeline and the cipher, twice (its pass-through and its segment
 * loop). Its top-tier (FTL) compile then ran for 0.4–0.8 s of CPU, in the
 * first seconds of traffic in each direction, and its compiler's memory
 * was the 8–12 MiB peaks of a session's RSS. A per-packet callback costs a
 * few nanoseconds as a call of its own; so the callbacks between layers are
 * compiled separately. V8 (Deno, Node) decides inlining by its own budget
 * and has no such switch: a no-op there.
 */
import { createRequire } from "node:module";
import { detectRuntime } from "../../ffi/index.ts";

type NoInline = (fn: (...args: never[]) => unknown) => void;

let noInline: NoInline | null | undefined;

function loadNoInline(): NoInline | null {
  if (detectRuntime() !== "bun") return null;
  try {
    const jsc = createRequire(import.meta.url)("bun:jsc") as { noInline?: unknown };
    return typeof jsc.noInline === "function" ? (jsc.noInline as NoInline) : null;
  } catch {
    return null; // a Bun without bun:jsc: compile as the engine decides
  }
}

/**
 * Asks the engine to compile `fn` on its own and never into its callers
 * (JavaScriptCore's `noInline`); does nothing on other engines. Returns
 * whether the hint was applied.
 */
export function compileSeparately(fn: (...args: never[]) => unknown): boolean {
  if (noInline === undefined) noInline = loadNoInline();
  if (noInline === null) return false;
  noInline(fn);
  return true;
}
