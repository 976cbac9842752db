/**
 * Starting worker threads the same way on Bun, Deno and Node.
 *
 * All three implement `node:worker_threads` (`workerData`, `parentPort`, the
 * `message`/`error`/`exit` events), so vtunts uses only that. The one
 * difference: Node 20 runs TypeScript through a loader (`--import tsx`, see
 * scripts/run) whose hooks a new worker thread does not inherit. On Node the
 * worker therefore starts from a tiny bootstrap that imports the same
 * `--import` modules first and then the entry module.
 */
import { Worker } from "node:worker_threads";
import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { detectRuntime } from "../../ffi/index.ts";

/** The `--import` modules of this Node process (e.g. the tsx loader), as URLs. */
export function nodePreloadImports(execArgv: readonly string[] = process.execArgv): string[] {
  const imports: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    let spec: string | undefined;
    if (arg === "--import") spec = execArgv[++i];
    else if (arg.startsWith("--import=")) spec = arg.slice("--import=".length);
    if (spec === undefined) continue;
    imports.push(isAbsolute(spec) ? pathToFileURL(spec).href : spec);
  }
  return imports;
}

/** The source of a CommonJS eval worker that imports `urls` one after the other. */
export function bootstrapSource(urls: readonly string[]): string {
  return `(async () => { for (const url of ${JSON.stringify(urls)}) await import(url); })()` +
    `.catch((e) => { setImmediate(() => { throw e; }); });`;
}

/** Starts a worker thread running `entry` with `workerData` (see the module comment for Node). */
export function startWorker(entry: URL, workerData: unknown): Worker {
  if (detectRuntime() === "node" && entry.pathname.endsWith(".ts")) {
    const preload = nodePreloadImports();
    if (preload.length > 0) {
      return new Worker(bootstrapSource([...preload, entry.href]), { eval: true, workerData });
    }
  }
  return new Worker(entry, { workerData });
}
