/**
 * FFI cost per libc call on the runtime running this file, through the same
 * {@link Libc} interface the daemon uses (so each backend's wrapper is included).
 * Prints one JSON line: nanoseconds per call for each case. `scripts/bench-ffi`
 * runs it under Bun, Deno and Node and next to the same calls in C.
 *   <runtime> scripts/bench-ffi.ts [iterations]
 */
import { createLibc, detectRuntime } from "../ffi/index.ts";
import { O_CLOEXEC } from "../ffi/libc.ts";

const libc = await createLibc();
const iterations = Number(process.argv[2] ?? 100_000);

/** ns per run of `body`: the fastest of 7 rounds of `n` runs each (after a warm-up), to see past a busy machine. */
function time(n: number, body: () => void): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) body();
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) body();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
  }
  return best;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench-ffi: ${what} failed`);
}

const fds = new Int32Array(2);
check(libc.pipe2(fds, O_CLOEXEC) === 0, "pipe2");
const [r, w] = [fds[0]!, fds[1]!];
const buf = new Uint8Array(2048);
const pipeRoundTrip = (size: number, offset: number) => () => {
  if (libc.write(w, buf, offset, size) !== size || libc.read(r, buf, offset, size) !== size) throw new Error("bench-ffi: pipe i/o failed");
};

const result = {
  runtime: detectRuntime(),
  getpid: time(iterations * 2, () => void libc.getpid()),
  closeEbadf: time(iterations * 2, () => void libc.close(-1)),
  // Two calls per run (write + read): reported per call.
  rw64: time(iterations, pipeRoundTrip(64, 0)) / 2,
  rw64Offset: time(iterations, pipeRoundTrip(64, 16)) / 2,
  rw1400: time(iterations, pipeRoundTrip(1400, 0)) / 2,
};
libc.close(r);
libc.close(w);
console.log(JSON.stringify(result));
