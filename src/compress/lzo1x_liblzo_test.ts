/**
 * The TypeScript LZO1X against the C library (liblzo2.so.2, Debian package
 * liblzo2-2) through bun:ffi:
 * - our output decompresses with C `lzo1x_decompress_safe`;
 * - C `lzo1x_1_compress`, `lzo1x_1_15_compress` and `lzo1x_999_compress`
 *   output (what vtund sends) decompresses with ours;
 * - our LZO1X-1 is byte-identical to `lzo1x_1_compress` (14-bit dictionary)
 *   and to `lzo1x_1_15_compress` (LZO1X_1_15_BITS), so the LZO stage sends
 *   exactly what vtund sends at levels 1–8.
 * bun:ffi exists only in Bun: under another runtime this file has one test
 * that says so and passes (the check runs in `bun test`). Under Bun a missing
 * liblzo2 is a failure naming the package, not a skip.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LZO1X_1_15_BITS, LZO1X_1_BITS, Lzo1xWorkmem, lzo1xCompress, lzo1xDecompress, lzo1xWorstCase } from "./lzo1x.ts";
import { capturedFrames, prng, sample, SAMPLE_KINDS, type SampleKind } from "./testing.ts";
import { toHex } from "../../test/vectors/vectors.ts";

const LIBRARY = "liblzo2.so.2";
const PACKAGE_HINT = "install the Debian package liblzo2-2 (apt-get install liblzo2-2)";
const isBun = typeof Bun !== "undefined";

type CCompressor = "lzo1x_1_compress" | "lzo1x_1_15_compress" | "lzo1x_999_compress";

interface CLzo {
  compress(fn: CCompressor, data: Uint8Array): Uint8Array;
  /** C lzo1x_decompress_safe: the output, or the negative LZO error code. */
  decompress(data: Uint8Array, max: number): Uint8Array | number;
}

async function openLiblzo(): Promise<CLzo> {
  const ffi = await import("bun:ffi");
  const sig = { args: ["ptr", "u64", "ptr", "ptr", "ptr"], returns: "i32" } as const;
  let lib;
  try {
    lib = ffi.dlopen(LIBRARY, {
      __lzo_init_v2: { args: ["u32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"], returns: "i32" },
      lzo1x_1_compress: sig,
      lzo1x_1_15_compress: sig,
      lzo1x_999_compress: sig,
      lzo1x_decompress_safe: sig,
    });
  } catch (e) {
    assert.fail(`cannot load ${LIBRARY} for the C cross-check: ${PACKAGE_HINT}. (${String(e)})`);
  }
  // lzo_init() for LZO 2.10 on LP64: sizeof short, int, long, uint32, lzo_uint, dict_t, char*, void*, lzo_callback_t.
  assert.equal(lib.symbols.__lzo_init_v2(0x20a0, 2, 4, 8, 4, 8, 8, 8, 8, 48), 0, "lzo_init() failed");
  const { ptr } = ffi;
  const workmem = new Uint8Array(1 << 20); // more than LZO1X_999_MEM_COMPRESS (448 KiB)
  const outLen = new BigUint64Array(1);
  const one = new Uint8Array(1); // bun:ffi cannot take a pointer to an empty array
  const p = (a: Uint8Array) => ptr(a.length > 0 ? a : one);
  return {
    compress(fn, data) {
      const out = new Uint8Array(lzo1xWorstCase(data.length));
      outLen[0] = BigInt(out.length);
      const rc = lib.symbols[fn](p(data), data.length, p(out), ptr(outLen), ptr(workmem));
      assert.equal(rc, 0, `${fn} failed with ${rc}`);
      return out.slice(0, Number(outLen[0]));
    },
    decompress(data, max) {
      const out = new Uint8Array(max);
      outLen[0] = BigInt(max);
      const rc = lib.symbols.lzo1x_decompress_safe(p(data), data.length, p(out), ptr(outLen), null);
      return rc === 0 ? out.slice(0, Number(outLen[0])) : rc;
    },
  };
}

function ours(data: Uint8Array, wm: Lzo1xWorkmem): Uint8Array {
  const out = new Uint8Array(lzo1xWorstCase(data.length));
  return out.slice(0, lzo1xCompress(data, 0, data.length, out, 0, wm));
}

function oursBack(data: Uint8Array, max: number): Uint8Array {
  const out = new Uint8Array(max);
  return out.slice(0, lzo1xDecompress(data, 0, data.length, out, 0, max));
}

/** Inputs: every kind at sizes 0..64, then pseudo-random sizes up to 2048, and a few large ones. */
function* inputs(): Generator<[SampleKind, Uint8Array]> {
  const next = prng(2024);
  for (const kind of SAMPLE_KINDS) {
    for (let size = 0; size <= 64; size++) yield [kind, sample(kind, size, size)];
    for (let i = 0; i < 150; i++) yield [kind, sample(kind, next() % 2049, next())];
    yield [kind, sample(kind, 2048, 1)];
    yield [kind, sample(kind, 100_000 + (next() % 50_000), next())];
  }
}

if (!isBun) {
  it("liblzo2 cross-check: Bun only (bun:ffi); not run under this runtime — run `bun test src/compress`", () => {
    console.log("lzo1x_liblzo_test: the liblzo2 cross-check needs bun:ffi and runs under `bun test` only");
  });
} else {
  describe("lzo1x against liblzo2 (bun:ffi)", () => {
    let cached: Promise<CLzo> | null = null;
    const c = (): Promise<CLzo> => (cached ??= openLiblzo());

    it(`${LIBRARY} is installed and initialises`, async () => {
      await c();
    });

    it("our LZO1X-1 output decompresses with C lzo1x_decompress_safe", async () => {
      const C = await c();
      const wm = new Lzo1xWorkmem();
      let n = 0;
      for (const [kind, data] of inputs()) {
        const back = C.decompress(ours(data, wm), data.length + 1);
        if (typeof back === "number") assert.fail(`${kind} ${data.length} bytes: C says ${back}`);
        if (toHex(back) !== toHex(data)) assert.fail(`${kind} ${data.length} bytes: C decompressed something else`);
        n++;
      }
      assert.equal(n, 4 * (65 + 150 + 2));
    });

    for (const fn of ["lzo1x_1_compress", "lzo1x_1_15_compress", "lzo1x_999_compress"] as const) {
      it(`C ${fn} output decompresses with ours`, async () => {
        const C = await c();
        for (const [kind, data] of inputs()) {
          if (fn === "lzo1x_999_compress" && data.length > 4096) continue; // slow, and nothing new
          const back = oursBack(C.compress(fn, data), data.length);
          if (toHex(back) !== toHex(data)) assert.fail(`${kind} ${data.length} bytes: round trip differs`);
        }
      });
    }

    for (const [fn, bits] of [
      ["lzo1x_1_compress", LZO1X_1_BITS],
      ["lzo1x_1_15_compress", LZO1X_1_15_BITS],
    ] as const) {
      it(`our compressor with a ${bits}-bit dictionary is byte-identical to C ${fn}`, async () => {
        const C = await c();
        const wm = new Lzo1xWorkmem(bits);
        for (const [kind, data] of inputs()) {
          const mine = toHex(ours(data, wm));
          if (mine !== toHex(C.compress(fn, data))) assert.fail(`${kind} ${data.length} bytes: output differs from ${fn}`);
        }
      });
    }

    it("C lzo1x_999_compress of the captured packets gives the frames vtund sent (tcp-lzo9.json)", async () => {
      const C = await c();
      const cap = capturedFrames("tcp-lzo9.json");
      for (const dir of [cap.c2s, cap.s2c]) {
        dir.packets.forEach((p, i) => assert.equal(toHex(C.compress("lzo1x_999_compress", p)), toHex(dir.frames[i]!)));
      }
    });

    it("C lzo1x_decompress_safe rejects what ours rejects: bytes after the end marker", async () => {
      const C = await c();
      const data = sample("packet", 500, 3);
      const good = ours(data, new Lzo1xWorkmem());
      const longer = new Uint8Array(good.length + 1);
      longer.set(good);
      assert.equal(C.decompress(longer, 600), -8); // LZO_E_INPUT_NOT_CONSUMED
      assert.throws(() => oursBack(longer, 600));
    });
  });
}
