/**
 * Micro-benchmark of Blowfish on whole packets: ns per packet for each path
 * that can carry `encrypt = "blowfish128ecb"` traffic, encrypt and decrypt:
 *
 * - native:    node:crypto "bf-ecb" (src/crypto/native.ts' context: one
 *              cipher.update() per packet, which allocates its output, then a
 *              copy into place); only where the runtime has it (Bun).
 * - per-block: the generic ECB loop of src/crypto/modes.ts calling
 *              Blowfish.encryptBlock once per 8 bytes (the TypeScript path
 *              before the bulk methods existed, with today's block code).
 * - bulk:      Blowfish.encryptEcbInto/decryptEcbInto on ordinary arrays: the
 *              JavaScript bulk path.
 * - wasm:      the same calls on arena buffers (src/bytes.ts), which run in
 *              WebAssembly (src/crypto/blowfish_wasm.ts): the data path's case.
 *
 * With --chained, also CBC/CFB/OFB: native against the TypeScript contexts.
 *
 * Timing: every path is first run 20000 times (enough for JSC's FTL and V8's
 * TurboFan to compile it), then the paths take turns in short samples and the
 * fastest sample of each counts, so that other load on the machine (which
 * only ever slows a sample down) drops out. Takes a few seconds.
 *
 *   bun scripts/lib/bench-blowfish.ts [--sizes 1400] [--samples 25] [--chained]
 *   deno run -A scripts/lib/bench-blowfish.ts …
 *   node_modules/.bin/tsx scripts/lib/bench-blowfish.ts …
 */
import { parseArgs } from "node:util";
import { allocBytes } from "../../src/bytes.ts";
import { Blowfish } from "../../src/crypto/blowfish.ts";
import { pureContext, type BlockCipher, type Mode, type ModeContext } from "../../src/crypto/modes.ts";
import { nativeContext, nativeSupported } from "../../src/crypto/native.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1400" },
    samples: { type: "string", default: "25" },
    chained: { type: "boolean", default: false },
  },
});
const sizes = values.sizes.split(",").map(Number);
const samples = Number(values.samples);
for (const n of sizes) {
  if (!(n > 0 && n % 8 === 0)) throw new Error(`--sizes: ${n} is not a positive multiple of 8`);
}

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";
const version = (globalThis as { Bun?: { version: string } }).Bun?.version ??
  (globalThis as { Deno?: { version: { deno: string } } }).Deno?.version.deno ??
  (globalThis as { process?: { version: string } }).process?.version ?? "?";

/** The block cipher without its bulk methods: pureContext then takes the per-block loop. */
function perBlockOnly(bf: Blowfish): BlockCipher {
  return {
    blockSize: 8,
    encryptBlock: (src, srcAt, dst, dstAt) => bf.encryptBlock(src, srcAt, dst, dstAt),
    decryptBlock: (src, srcAt, dst, dstAt) => bf.decryptBlock(src, srcAt, dst, dstAt),
  };
}

interface Job {
  name: string;
  run: () => void;
  best: number;
}

/** Warms every job up, then times them in turns; returns ns per call of each. */
function measure(jobs: Job[]): void {
  for (const job of jobs) for (let i = 0; i < 20000; i++) job.run();
  for (let s = 0; s < samples; s++) {
    for (const job of jobs) {
      const n = 200;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) job.run();
      const ns = ((performance.now() - t0) * 1e6) / n;
      if (ns < job.best) job.best = ns;
    }
  }
}

const key = new Uint8Array(16).map((_, i) => (i * 167 + 13) & 0xff);
const iv = new Uint8Array(8).map((_, i) => (i * 29 + 7) & 0xff);
const bf = new Blowfish(key);
const haveNative = nativeSupported("blowfish", key.length, "ecb");

console.log(`${runtime} ${version}: Blowfish-128, ns per packet (fastest of ${samples} samples; lower is better)`);
for (const size of sizes) {
  const plain = new Uint8Array(size).map((_, i) => (i * 53 + 1) & 0xff);
  const sealed = bf.encryptEcb(plain);
  const out = new Uint8Array(size);
  const check = (name: string, ctx: ModeContext, input: Uint8Array, want: Uint8Array): ModeContext => {
    const o = input === arenaPlain || input === arenaSealed ? arenaOut : out;
    ctx.update(input, 0, size, o, 0);
    for (let i = 0; i < size; i++) if (o[i] !== want[i]) throw new Error(`${name}: wrong output at byte ${i}`);
    return ctx;
  };
  const jobs: Job[] = [];
  // The data path's buffers are arena buffers (src/bytes.ts), which Blowfish-ECB runs over in WebAssembly.
  const arenaPlain = allocBytes(size);
  const arenaSealed = allocBytes(size);
  const arenaOut = allocBytes(size);
  arenaPlain.set(plain);
  arenaSealed.set(sealed);
  const add = (name: string, makeCtx: (encrypt: boolean) => ModeContext, arena = false): void => {
    const [p, c, o] = arena ? [arenaPlain, arenaSealed, arenaOut] : [plain, sealed, out];
    const enc = check(`${name} encrypt`, makeCtx(true), p, sealed);
    const dec = check(`${name} decrypt`, makeCtx(false), c, plain);
    jobs.push({ name: `${name} encrypt`, run: () => enc.update(p, 0, size, o, 0), best: Infinity });
    jobs.push({ name: `${name} decrypt`, run: () => dec.update(c, 0, size, o, 0), best: Infinity });
  };
  if (haveNative) add("native", (e) => nativeContext("blowfish", key, "ecb", e, null));
  add("per-block", (e) => pureContext(perBlockOnly(bf), "ecb", e, null));
  add("bulk", (e) => pureContext(bf, "ecb", e, null));
  add("wasm", (e) => pureContext(bf, "ecb", e, null), true);
  measure(jobs);
  const ns = (name: string): number | null => jobs.find((j) => j.name === name)?.best ?? null;
  const cell = (v: number | null): string => (v === null ? "-" : v.toFixed(0)).padStart(10);
  console.log(`\n${size}-byte packets, ECB        native  per-block       bulk       wasm   wasm vs native, vs bulk`);
  for (const dir of ["encrypt", "decrypt"]) {
    const n = ns(`native ${dir}`);
    const b = ns(`bulk ${dir}`)!;
    const w = ns(`wasm ${dir}`)!;
    const ratio = `${n === null ? "-" : `${(n / w).toFixed(2)}x`}, ${(b / w).toFixed(2)}x faster`;
    console.log(`  ${dir.padEnd(20)}${cell(n)}${cell(ns(`per-block ${dir}`))}${cell(b)}${cell(w)}   ${ratio}`);
  }

  if (values.chained) {
    const chained: Mode[] = ["cbc", "cfb", "ofb"];
    const cjobs: Job[] = [];
    for (const mode of chained) {
      for (const encrypt of [true, false]) {
        // A context is never reset, so each run continues its chain: fine for timing.
        const p = pureContext(bf, mode, encrypt, iv);
        cjobs.push({ name: `pure ${mode} ${encrypt}`, run: () => p.update(plain, 0, size, out, 0), best: Infinity });
        if (nativeSupported("blowfish", key.length, mode)) {
          const n = nativeContext("blowfish", key, mode, encrypt, iv);
          cjobs.push({ name: `native ${mode} ${encrypt}`, run: () => n.update(plain, 0, size, out, 0), best: Infinity });
        }
      }
    }
    measure(cjobs);
    const c = (name: string): string => cell(cjobs.find((j) => j.name === name)?.best ?? null);
    console.log(`\n${size}-byte packets, chained    native       pure`);
    for (const mode of chained) {
      for (const encrypt of [true, false]) {
        const tag = `${mode} ${encrypt}`;
        console.log(`  ${`${mode} ${encrypt ? "encrypt" : "decrypt"}`.padEnd(20)}${c(`native ${tag}`)}${c(`pure ${tag}`)}`);
      }
    }
  }
}
