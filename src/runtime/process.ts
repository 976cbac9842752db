/**
 * What differs between Bun, Deno and Node about this process itself: whether a
 * module is the program's entry point, how to start this program again (for
 * going to the background), and the runtime's name and version.
 */
import { existsSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { detectRuntime } from "../../ffi/index.ts";

/** `import.meta` as the three runtimes fill it (`main` is Bun's and Deno's; Node 20 has none). */
interface Meta {
  url: string;
  main?: boolean;
}

/** True if the module with this `import.meta` is the program's entry point (`import.meta.main` everywhere). */
export function isMainModule(meta: Meta, argv1: string | undefined = process.argv[1]): boolean {
  if (typeof meta.main === "boolean") return meta.main;
  if (argv1 === undefined || !meta.url.startsWith("file:")) return false;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(fileURLToPath(meta.url)) === real(argv1);
}

/** The nearest `deno.json` at or above `dir`, or null. */
export function findDenoConfig(dir: string): string | null {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const candidate = join(d, "deno.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(d) === d) return null;
  }
}

/**
 * The command line that starts this program again under the same runtime, with
 * the flags it needs, before its own arguments:
 * - a `bun build --compile` binary: itself;
 * - Bun from source: `bun SCRIPT`;
 * - Deno: `deno run -A [--config deno.json] SCRIPT` (Deno does not report its
 *   own flags; vtunts needs FFI, files, subprocesses and env, hence -A);
 * - Node: `node <its exec flags, e.g. --import tsx> SCRIPT`.
 */
export function selfCommand(): string[] {
  const script = process.argv[1];
  // A `bun build --compile` binary runs its embedded script from /$bunfs.
  if (script === undefined || script.startsWith("/$bunfs/") || script === process.execPath) return [process.execPath];
  const path = resolve(script);
  switch (detectRuntime()) {
    case "bun":
      return [process.execPath, path];
    case "deno": {
      const config = findDenoConfig(dirname(path));
      return [process.execPath, "run", "-A", "--quiet", ...(config ? ["--config", config] : []), path];
    }
    case "node":
      return [process.execPath, ...process.execArgv, path];
  }
}

/** The runtime and its version, e.g. `"deno 2.9.6"`. */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  switch (detectRuntime()) {
    case "bun":
      return `bun ${g.Bun!.version}`;
    case "deno":
      return `deno ${g.Deno!.version.deno}`;
    case "node":
      return `node ${process.versions.node}`;
  }
}

/**
 * Names this process `name` in ps, top, ss and pkill (`/proc/self/comm`, at most
 * 15 bytes), as the `vtunts` binary is named; under Deno or Node it would be
 * "deno" or "node". Returns the error instead of throwing: a name is cosmetic.
 */
export function setProcessName(name: string): Error | null {
  try {
    writeFileSync("/proc/self/comm", name.slice(0, 15));
    return null;
  } catch (e) {
    return new Error(`cannot set the process name to ${name}: ${(e as Error).message}`);
  }
}

/**
 * Features to switch off, for tests of the fallbacks and for kernels that
 * misbehave: VTUNTS_DISABLE=tun-offload,udp-gso,udp-gro,libcrypto,liblzo,code-release,lone-path,read-hold,unsent-limit,rate-queues
 * (any of them; without libcrypto AES runs in node:crypto, without liblzo LZO
 * in TypeScript; code-release: see src/runtime/code_pages.ts; lone-path: every
 * wake-up takes the batch path, see src/link/link.ts; read-hold: a TCP
 * session's socket wakes the daemon for every byte, see src/transport/tcp.ts;
 * unsent-limit: a TCP session's socket may fill its send buffer with unsent
 * data, see src/transport/unsent_limit.ts, and rate-queues goes with it;
 * rate-queues: the link's backlog and the TUN's queue keep their fixed
 * lengths instead of following the TCP connection's rate, see
 * Link.followSendRate and src/device/tun_queue.ts).
 */
export const DISABLED_FEATURES: ReadonlySet<string> = new Set(
  (process.env.VTUNTS_DISABLE ?? "").split(",").map((s) => s.trim()).filter((s) => s !== ""),
);
