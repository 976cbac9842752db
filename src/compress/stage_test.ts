/**
 * The compression stages: zlib reproduces the frames real vtund sent
 * (tcp-zlib9.json) from the captured packets and decodes them back, the
 * stream state carries over between frames, corrupt or oversized frames end
 * the link (throw) and decoded frames never exceed 2048 bytes; LZO decodes
 * the captured LZO1X-999 frames; both round-trip through a real Pipeline
 * (with its 8192-byte scratch buffers) within their declared overhead.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import { Pipeline } from "../link/pipeline.ts";
import { MAX_PACKET } from "../protocol/frame.ts";
import { createCompressStage, LzoStage, type CompressStage } from "./stage.ts";
import { loadLibLzo } from "../../ffi/index.ts";
import { lzo1xCompress, lzo1xWorstCase } from "./lzo1x.ts";
import { capturedFrames, prng, sample, SAMPLE_KINDS } from "./testing.ts";
import { toHex } from "../../test/vectors/vectors.ts";

/** Bun's and Deno's deflate reproduce vtund's level-9 frames exactly; Node 20's (Chromium's zlib) does not. */
const referenceZlib = typeof Bun !== "undefined" || "Deno" in globalThis;

const SCRATCH = 8192;

function enc(stage: CompressStage, packet: Uint8Array): Uint8Array {
  const out = new Uint8Array(SCRATCH);
  const n = stage.encode(packet, 0, packet.length, out, 0);
  assert.ok(n > 0 && n <= packet.length + stage.overhead, `${stage.name}: ${n} bytes for a ${packet.length}-byte packet`);
  return out.slice(0, n);
}

function dec(stage: CompressStage, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(SCRATCH);
  return out.slice(0, stage.decode(frame, 0, frame.length, out, 0));
}

describe("createCompressStage", () => {
  it("names the stage and maps level 0 to 1", () => {
    const stages = [
      createCompressStage({ method: "zlib", level: 9 }),
      createCompressStage({ method: "zlib", level: 0 }),
      createCompressStage({ method: "lzo", level: 9 }),
      createCompressStage({ method: "lzo", level: 0 }),
    ];
    assert.deepEqual(
      stages.map((s) => s.name),
      ["zlib:9", "zlib:1", "lzo:9", "lzo:1"],
    );
    for (const s of stages) s.close();
  });

  it("rejects levels zlib cannot use", () => {
    assert.throws(() => createCompressStage({ method: "zlib", level: 10 }), /zlib: compression level 10/);
    assert.throws(() => createCompressStage({ method: "lzo", level: -1 }), RangeError);
  });

  it("declares overheads that cover incompressible packets of the largest size", () => {
    assert.equal(createCompressStage({ method: "lzo", level: 1 }).overhead, lzo1xWorstCase(MAX_PACKET) - MAX_PACKET);
    for (const method of ["zlib", "lzo"] as const) {
      for (let level = 1; level <= 9; level++) {
        const s = createCompressStage({ method, level });
        for (let i = 0; i < 20; i++) enc(s, sample("random", MAX_PACKET, i)); // enc() checks the bound
        s.close();
      }
    }
  });
});

describe("zlib stage against the capture (tcp-zlib9.json)", () => {
  const cap = capturedFrames("tcp-zlib9.json");

  for (const dir of ["c2s", "s2c"] as const) {
    it(`${dir}: the captured frames decode to the packets, in one continuous stream`, () => {
      const { frames, packets } = cap[dir];
      assert.equal(frames.length, 3);
      assert.equal(toHex(frames[0]!.subarray(0, 2)), "78da");
      const stage = createCompressStage({ method: "zlib", level: 9 });
      frames.forEach((f, i) => {
        assert.equal(toHex(f.subarray(f.length - 4)), "0000ffff");
        assert.equal(toHex(dec(stage, f)), toHex(packets[i]!));
      });
      stage.close();
    });

    it(`${dir}: compressing the packets at level 9 gives ${referenceZlib ? "exactly the captured frames" : "a stream that decodes (Node's zlib differs)"}`, () => {
      const { frames, packets } = cap[dir];
      const stage = createCompressStage({ method: "zlib", level: 9 });
      const receiver = createCompressStage({ method: "zlib", level: 9 });
      packets.forEach((p, i) => {
        const f = enc(stage, p);
        if (referenceZlib) assert.equal(toHex(f), toHex(frames[i]!));
        assert.equal(toHex(dec(receiver, f)), toHex(p));
      });
      stage.close();
      receiver.close();
    });
  }

  it("a later frame cannot be decoded without the earlier ones (the stream carries state)", () => {
    const stage = createCompressStage({ method: "zlib", level: 9 });
    assert.throws(() => dec(stage, cap.c2s.frames[1]!), /zlib: inflate error/);
    stage.close();
  });
});

describe("zlib stage", () => {
  it("round-trips many packets of every kind at levels 1 and 9, and repeats compress well", () => {
    for (const level of [1, 9]) {
      const tx = createCompressStage({ method: "zlib", level });
      const rx = createCompressStage({ method: "zlib", level });
      const next = prng(level);
      for (let i = 0; i < 400; i++) {
        const p = sample(SAMPLE_KINDS[i % 4]!, 1 + (next() % MAX_PACKET), i);
        assert.equal(toHex(dec(rx, enc(tx, p))), toHex(p));
      }
      // The same packet again: the window still holds it.
      const p = sample("random", 1400, 99);
      assert.ok(enc(tx, p).length > 1400);
      const again = enc(tx, p);
      assert.ok(again.length < 30, `a repeated packet took ${again.length} bytes`);
      tx.close();
      rx.close();
    }
  });

  it("every frame ends with the sync marker", () => {
    const tx = createCompressStage({ method: "zlib", level: 1 });
    for (let i = 0; i < 50; i++) {
      const f = enc(tx, sample("packet", 60 + i * 30, i));
      assert.equal(toHex(f.subarray(f.length - 4)), "0000ffff");
    }
    tx.close();
  });

  it("works at offsets into the buffers", () => {
    const tx = createCompressStage({ method: "zlib", level: 6 });
    const rx = createCompressStage({ method: "zlib", level: 6 });
    const p = sample("packet", 1000, 5);
    const src = new Uint8Array(1200);
    src.set(p, 77);
    const mid = new Uint8Array(SCRATCH).fill(0xcc);
    const n = tx.encode(src, 77, 1000, mid, 300);
    assert.ok(mid.subarray(0, 300).every((b) => b === 0xcc) && mid.subarray(300 + n).every((b) => b === 0xcc));
    const out = new Uint8Array(SCRATCH).fill(0xdd);
    const m = rx.decode(mid, 300, n, out, 500);
    assert.equal(toHex(out.subarray(500, 500 + m)), toHex(p));
    // Chromium's zlib (Deno) may scribble past the output, but only within the 2049 bytes it is given.
    assert.ok(out.subarray(0, 500).every((b) => b === 0xdd) && out.subarray(500 + MAX_PACKET + 1).every((b) => b === 0xdd));
    tx.close();
    rx.close();
  });

  it("garbage ends the link, and the stream stays failed", () => {
    const rx = createCompressStage({ method: "zlib", level: 1 });
    assert.throws(() => dec(rx, Uint8Array.of(1, 2, 3, 4, 5, 6, 7)), /zlib: inflate error/);
    const tx = createCompressStage({ method: "zlib", level: 1 });
    assert.throws(() => dec(rx, enc(tx, sample("packet", 100, 1))), /zlib: inflate stream failed earlier/);
    rx.close();
    tx.close();
  });

  it("a frame that inflates beyond 2048 bytes throws; exactly 2048 is fine", () => {
    const deflate = (data: Uint8Array): Uint8Array => new Uint8Array(zlib.deflateSync(data, { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    const ok = createCompressStage({ method: "zlib", level: 1 });
    assert.equal(dec(ok, deflate(new Uint8Array(MAX_PACKET))).length, MAX_PACKET);
    const big = createCompressStage({ method: "zlib", level: 1 });
    assert.throws(() => dec(big, deflate(new Uint8Array(100_000))), { message: "zlib: frame decompresses to more than 2048 bytes" });
    ok.close();
    big.close();
  });

  it("a peer that ends its stream (Z_FINISH) ends the link", () => {
    const rx = createCompressStage({ method: "zlib", level: 1 });
    const finished = new Uint8Array(zlib.deflateSync(sample("packet", 200, 1)));
    assert.equal(dec(rx, finished).length, 200);
    assert.throws(() => dec(rx, finished), /zlib:/);
    rx.close();
  });

  it("throws when the output buffer is too small", () => {
    const tx = createCompressStage({ method: "zlib", level: 1 });
    const p = sample("random", 1000, 1);
    assert.throws(() => tx.encode(p, 0, p.length, new Uint8Array(500), 0), /zlib: output buffer too small/);
    tx.close();
  });
});

/**
 * liblzo2 where this runtime loads it (Bun; setup installs liblzo2-2, and its
 * absence there is a failure, not a skip), else null (Deno, Node).
 */
const liblzo = await loadLibLzo();

describe("liblzo2 for the LZO stage", () => {
  it(typeof Bun !== "undefined" ? "loads under Bun (Debian package liblzo2-2)" : "is not used outside Bun", () => {
    if (typeof Bun !== "undefined") assert.ok(liblzo !== null, "liblzo2.so.2 did not load: apt-get install liblzo2-2");
    else assert.equal(liblzo, null);
    assert.equal(new LzoStage(1).backend, liblzo === null ? "typescript" : "liblzo2");
  });

  it("compresses to the same bytes as the TypeScript codec, and each decodes the other's frames", { skip: liblzo === null ? "no liblzo2 in this runtime" : false }, () => {
    const c = new LzoStage(1, liblzo);
    const ts = new LzoStage(1, null);
    assert.equal(c.backend, "liblzo2");
    const next = prng(7);
    for (let i = 0; i < 400; i++) {
      const size = i < 4 ? [1, 2, 3, MAX_PACKET][i]! : 1 + (next() % MAX_PACKET);
      const p = sample(SAMPLE_KINDS[i % SAMPLE_KINDS.length]!, size, i);
      const fc = enc(c, p);
      const ft = enc(ts, p);
      if (toHex(fc) !== toHex(ft)) assert.fail(`packet ${i} (${size} bytes): liblzo2 and TypeScript frames differ`);
      if (toHex(dec(c, ft)) !== toHex(p) || toHex(dec(ts, fc)) !== toHex(p)) assert.fail(`packet ${i} does not round-trip`);
    }
  });

  it("reads and writes at offsets into the buffers", { skip: liblzo === null ? "no liblzo2 in this runtime" : false }, () => {
    const c = new LzoStage(1, liblzo);
    const p = sample("packet", 1300, 3);
    const src = new Uint8Array(5000);
    src.set(p, 77);
    const wire = new Uint8Array(5000).fill(0xee);
    const n = c.encode(src, 77, p.length, wire, 1001);
    assert.ok(wire.subarray(0, 1001).every((b) => b === 0xee) && wire.subarray(1001 + n).every((b) => b === 0xee), "bytes outside the frame changed");
    assert.equal(toHex(wire.subarray(1001, 1001 + n)), toHex(enc(new LzoStage(1, null), p)));
    const out = new Uint8Array(5000).fill(0xee);
    assert.equal(c.decode(wire, 1001, n, out, 333), p.length);
    assert.equal(toHex(out.subarray(333, 333 + p.length)), toHex(p));
    assert.ok(out.subarray(0, 333).every((b) => b === 0xee) && out.subarray(333 + p.length).every((b) => b === 0xee));
  });
});

for (const backend of liblzo === null ? [null] : [liblzo, null]) describe(`lzo stage (${backend === null ? "TypeScript" : "liblzo2"})`, () => {
  const cap = capturedFrames("tcp-lzo9.json");
  const createLzo = (level: number) => new LzoStage(level, backend);

  it("decodes the captured LZO1X-999 frames and its own", () => {
    const stage = createLzo(9);
    for (const dir of [cap.c2s, cap.s2c]) {
      dir.frames.forEach((f, i) => assert.equal(toHex(dec(stage, f)), toHex(dir.packets[i]!)));
      for (const p of dir.packets) {
        const f = enc(stage, p);
        // LZO1X-1 gets less out of a ping than vtund's LZO1X-999 (58 bytes).
        assert.ok(f.length < 90, `${f.length} bytes for a 92-byte ping`);
        assert.equal(toHex(dec(stage, f)), toHex(p));
      }
    }
  });

  it("frames are independent: any order decodes", () => {
    const stage = createLzo(1);
    const packets = Array.from({ length: 10 }, (_, i) => sample("packet", 100 + i * 100, i));
    const frames = packets.map((p) => enc(stage, p));
    for (let i = frames.length - 1; i >= 0; i--) assert.equal(toHex(dec(stage, frames[i]!)), toHex(packets[i]!));
  });

  it("a frame that decompresses beyond 2048 bytes throws; exactly 2048 is fine", () => {
    const stage = createLzo(1);
    const frameOf = (size: number): Uint8Array => {
      const out = new Uint8Array(lzo1xWorstCase(size));
      return out.slice(0, lzo1xCompress(new Uint8Array(size), 0, size, out, 0));
    };
    assert.equal(dec(stage, frameOf(MAX_PACKET)).length, MAX_PACKET);
    assert.throws(() => dec(stage, frameOf(MAX_PACKET + 1)), { message: "lzo: frame decompresses to more than 2048 bytes" });
  });

  it("corrupt frames throw", () => {
    const stage = createLzo(1);
    const f = cap.c2s.frames[0]!;
    assert.throws(() => dec(stage, f.subarray(0, f.length - 1)), /lzo: bad frame: lzo1x: input overrun/);
    assert.throws(() => dec(stage, Uint8Array.of(0x01, 0x41, 0x42, 0x43, 0x44, 0x5c, 0x00, 0x11, 0, 0)), /lookbehind/);
    assert.throws(() => dec(stage, Uint8Array.of(0x12, 0x41, 0x11, 0, 0, 0x99)), /lzo: bad frame: lzo1x: (input not consumed|1 bytes after the end marker)/);
  });
});

describe("stages in a Pipeline", () => {
  for (const [method, level] of [
    ["zlib", 1],
    ["zlib", 9],
    ["lzo", 1],
    ["lzo", 9],
  ] as const) {
    it(`${method}:${level} round-trips packets up to 2048 bytes through the scratch buffers`, () => {
      const tx = new Pipeline([createCompressStage({ method, level })]);
      const rx = new Pipeline([createCompressStage({ method, level })]);
      const wire = new Uint8Array(SCRATCH);
      const next = prng(31);
      for (let i = 0; i < 300; i++) {
        const size = i === 0 ? MAX_PACKET : 1 + (next() % MAX_PACKET);
        const p = sample(SAMPLE_KINDS[i % 4]!, size, i);
        const n = tx.encode(p, 0, p.length, wire, 2);
        assert.ok(n > 0 && n <= tx.maxEncoded(p.length));
        const m = rx.decode(wire, 2, n);
        assert.equal(m, p.length);
        if (toHex(rx.decoded.subarray(0, m)) !== toHex(p)) assert.fail(`packet ${i} differs`);
      }
    });
  }
});
