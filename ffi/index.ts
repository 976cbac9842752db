/**
 * Picks the {@link Libc} backend of the runtime we are running on. This is the
 * only place that knows which runtime is underneath.
 */
import type { Libc } from "./libc.ts";

export type { Libc } from "./libc.ts";

/** The JavaScript runtime executing this code. */
export function detectRuntime(): "bun" | "deno" | "node" {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}

let cached: Libc | undefined;

/** The libc backend for this thread (created on first use, then reused). */
export async function loadLibc(): Promise<Libc> {
  if (cached) return cached;
  const runtime = detectRuntime();
  switch (runtime) {
    case "bun": {
      const { createBunLibc } = await import("./bun.ts");
      cached = createBunLibc();
      return cached;
    }
    default:
      throw new Error(
        `ffi: the ${runtime} backend is not available yet; run vtunts with Bun (dist/vtunts or scripts/run)`,
      );
  }
}
