/**
 * Blowfish-ECB as WebAssembly, over the data path's arena (see bytes.ts).
 *
 * The JavaScript bulk path (blowfish.ts, `ecbWords`) is ALU-bound: a round
 * is four table look-ups plus ~13 shifts, masks, adds and XORs, and the JITs
 * add bounds checks and register moves around them. The same loop as
 * WebAssembly loads the S-boxes with a constant offset from a fixed address
 * and no bounds check (the engines guard wasm memory with unmapped pages),
 * measured per 1400-byte packet on a 2 GHz AMD EPYC: Bun 7.13 → 5.96 µs,
 * Deno 9.6 → 7.8 µs, Node (tsx) 17 → 8.4 µs. Two and three interleaved
 * blocks, six lanes, a 256 KiB combined S0+S1 table (one look-up fewer per
 * round, but from L2) and index forms that leave the ×4 to the address
 * were all slower.
 *
 * It can only reach its own memory, so it runs when source and destination
 * are buffers of the same arena (the link's buffers all are); everything
 * else takes the JavaScript path. The key schedule lives in the arena's
 * reserved first bytes ({@link ARENA_RESERVED}), at fixed addresses, and is
 * copied there when a different key is used on that arena (a session's
 * thread has one key, so once per session):
 *
 *     0     S0 S1 S2 S3   4 × 256 words
 *     4096  P             18 words, encryption order
 *     4168  P reversed    18 words (decryption)
 *
 * Words are stored little-endian (WebAssembly's order); the data are
 * big-endian words (Blowfish's), swapped on load and store.
 *
 * The module is assembled below from a few opcodes rather than kept as a
 * binary blob; one round of one lane, in WebAssembly text:
 *
 *     (local.set $r0 (i32.xor (local.get $r0) (i32.xor (local.get $pa)
 *       (i32.add (i32.xor (i32.add
 *           (i32.load offset=0    (i32.and (i32.shr_u (local.get $l0) (i32.const 22)) (i32.const 1020)))
 *           (i32.load offset=1024 (i32.and (i32.shr_u (local.get $l0) (i32.const 14)) (i32.const 1020))))
 *           (i32.load offset=2048 (i32.and (i32.shr_u (local.get $l0) (i32.const 6)) (i32.const 1020))))
 *         (i32.load offset=3072 (i32.and (i32.shl (local.get $l0) (i32.const 2)) (i32.const 1020)))))))
 */
import { rememberRecent } from "../../ffi/recent.ts";
import { ARENA_RESERVED, arenaMemory } from "../bytes.ts";

/** Byte address of the S-boxes in the arena. */
const S_AT = 0;
/** Byte address of P in encryption order. */
const PE_AT = 4096;
/** Byte address of P reversed. */
const PD_AT = PE_AT + 72;
if (PD_AT + 72 > ARENA_RESERVED) throw new Error("blowfish_wasm: the key schedule does not fit the arena's reserved bytes");

/** ECB over `length` bytes (a multiple of 8) at arena address `src` into `dst`; `p` is PE_AT or PD_AT. */
type EcbFunction = (p: number, src: number, dst: number, length: number) => void;

/** A key schedule as {@link WasmBlowfish} loads it. */
export interface BlowfishSchedule {
  /** S0..S3 back to back. */
  readonly s: Int32Array;
  /** P in encryption order. */
  readonly pe: Int32Array;
  /** P reversed. */
  readonly pd: Int32Array;
}

/** The compiled module, once per thread; null where WebAssembly is missing or refuses it. */
let compiled: WebAssembly.Module | null | undefined;

/** Per arena: its instance and whose key schedule its reserved bytes hold. */
interface ArenaCipher {
  readonly ecb: EcbFunction;
  readonly view: DataView;
  loaded: BlowfishSchedule | null;
}
/** Per buffer seen: its arena's cipher, or null (not an arena, or no WebAssembly); {@link cipherOf} asks it once per array while it remembers that array. */
const perBuffer = new WeakMap<ArrayBufferLike, ArenaCipher | null>();

/**
 * Runs Blowfish-ECB of `schedule` in WebAssembly when `src` and `dst` are
 * buffers of the same arena; returns false (and does nothing) otherwise, and
 * the caller takes its JavaScript path. Ranges are the caller's to check.
 * Same overlap rule as the JavaScript path: in place, or `dst` before `src`.
 */
export function wasmEcb(
  schedule: BlowfishSchedule,
  decrypt: boolean,
  src: Uint8Array,
  srcAt: number,
  length: number,
  dst: Uint8Array,
  dstAt: number,
): boolean {
  if (length === 0) return true;
  const cipher = cipherOf(src);
  // One cipher per arena: the same cipher means the same arena.
  if (cipher === null || (dst !== src && cipherOf(dst) !== cipher)) return false;
  if (cipher.loaded !== schedule) load(cipher, schedule);
  cipher.ecb(decrypt ? PD_AT : PE_AT, src.byteOffset + srcAt, dst.byteOffset + dstAt, length);
  return true;
}

/**
 * The cipher of the arena `bytes` is a view of, or null (not an arena, or no
 * WebAssembly). Remembered for the last few arrays: an idle packet's call
 * would otherwise look up `.buffer` and a WeakMap, microseconds when the
 * caches are cold.
 */
const cipherOf = rememberRecent((bytes: Uint8Array): ArenaCipher | null => {
  const buffer = bytes.buffer;
  let cipher = perBuffer.get(buffer);
  if (cipher === undefined) {
    const memory = arenaMemory(buffer);
    cipher = memory === null ? null : instantiate(memory);
    perBuffer.set(buffer, cipher);
  }
  return cipher;
});

function instantiate(memory: WebAssembly.Memory): ArenaCipher | null {
  try {
    if (compiled === undefined) compiled = new WebAssembly.Module(assemble());
    if (compiled === null) return null;
    const instance = new WebAssembly.Instance(compiled, { e: { m: memory } });
    return { ecb: instance.exports.ecb as EcbFunction, view: new DataView(memory.buffer), loaded: null };
  } catch {
    compiled = null;
    return null;
  }
}

/** Copies a key schedule into the arena's reserved bytes (little-endian words). */
function load(cipher: ArenaCipher, schedule: BlowfishSchedule): void {
  const v = cipher.view;
  for (let i = 0; i < 1024; i++) v.setInt32(S_AT + 4 * i, schedule.s[i]!, true);
  for (let i = 0; i < 18; i++) {
    v.setInt32(PE_AT + 4 * i, schedule.pe[i]!, true);
    v.setInt32(PD_AT + 4 * i, schedule.pd[i]!, true);
  }
  cipher.loaded = schedule;
}

// ---- the module ---------------------------------------------------------

/** Interleaved blocks per loop iteration (see the module comment). */
const LANES = 4;

// Opcodes used (WebAssembly core spec, binary format).
const BLOCK = 0x02, LOOP = 0x03, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, SELECT = 0x1b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_LOAD = 0x28, I32_STORE = 0x36, I32_CONST = 0x41;
const I32_LT_U = 0x49, I32_GE_U = 0x4f, I32_ADD = 0x6a, I32_SUB = 0x6b, I32_AND = 0x71, I32_OR = 0x72;
const I32_XOR = 0x73, I32_SHL = 0x74, I32_SHR_U = 0x76, I32_ROTL = 0x77, I32_ROTR = 0x78;
const VOID = 0x40, I32 = 0x7f;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const get = (i: number) => [LOCAL_GET, i];
const set = (i: number, ...value: number[][]) => [...value.flat(), LOCAL_SET, i];
const i32 = (v: number) => [I32_CONST, ...sleb(v | 0)];
/** i32.load with a constant offset; align 2^align. */
const load32 = (offset: number, align: number, ...address: number[][]) => [...address.flat(), I32_LOAD, align, ...uleb(offset)];
const op = (code: number, ...args: number[][]) => [...args.flat(), code];
/** Big-endian ↔ little-endian: (x rotl 8) & 0x00ff00ff | (x rotr 8) & 0xff00ff00. */
const bswap = (x: number[]) => op(I32_OR, op(I32_AND, op(I32_ROTL, x, i32(8)), i32(0x00ff00ff)), op(I32_AND, op(I32_ROTR, x, i32(8)), i32(0xff00ff00)));

/** The module's bytes: one function `ecb(p, src, dst, length)` over the imported memory "e"."m". */
export function assemble(): Uint8Array {
  // Locals: the four parameters, then these, then l, r and the block offset of each lane.
  const [P, SRC, DST, LEN] = [0, 1, 2, 3];
  const [I, LAST, P0, P17, PA, PB, K] = [4, 5, 6, 7, 8, 9, 10];
  const L = (j: number) => 11 + 3 * j;
  const R = (j: number) => 12 + 3 * j;
  const O = (j: number) => 13 + 3 * j;
  const localCount = 11 + 3 * LANES - 4;

  // F(x) = ((S0[x >>> 24] + S1[x >>> 16 & 255]) ^ S2[x >>> 8 & 255]) + S3[x & 255], as byte addresses.
  const sbox = (box: number, index: number[]) => load32(S_AT + 1024 * box, 2, op(I32_AND, index, i32(1020)));
  const f = (x: number) =>
    op(
      I32_ADD,
      op(
        I32_XOR,
        op(I32_ADD, sbox(0, op(I32_SHR_U, get(x), i32(22))), sbox(1, op(I32_SHR_U, get(x), i32(14)))),
        sbox(2, op(I32_SHR_U, get(x), i32(6))),
      ),
      sbox(3, op(I32_SHL, get(x), i32(2))),
    );
  const halfRound = (into: (j: number) => number, from: (j: number) => number, p: number) =>
    Array.from({ length: LANES }, (_, j) => set(into(j), op(I32_XOR, get(into(j)), op(I32_XOR, f(from(j)), get(p))))).flat();

  const body = [
    ...set(P0, load32(0, 2, get(P))),
    ...set(P17, load32(68, 2, get(P))),
    ...set(LAST, op(I32_SUB, get(LEN), i32(8))),
    BLOCK, VOID, LOOP, VOID,
    ...op(BR_IF, op(I32_GE_U, get(I), get(LEN))), 1,
    // Lane j takes block i + 8j, or the last block again when there are fewer (harmless: same bytes, same place).
    ...set(O(0), get(I)),
    ...Array.from({ length: LANES - 1 }, (_, n) => {
      const j = n + 1;
      const next = op(I32_ADD, get(I), i32(8 * j));
      return set(O(j), op(SELECT, next, get(LAST), op(I32_LT_U, next, get(LEN))));
    }).flat(),
    ...Array.from({ length: LANES }, (_, j) => [
      ...set(L(j), op(I32_XOR, bswap(load32(0, 0, op(I32_ADD, get(SRC), get(O(j))))), get(P0))),
      ...set(R(j), bswap(load32(4, 0, op(I32_ADD, get(SRC), get(O(j)))))),
    ]).flat(),
    // Eight double rounds; K walks P two words at a time.
    ...set(K, get(P)),
    LOOP, VOID,
    ...set(PA, load32(4, 2, get(K))),
    ...set(PB, load32(8, 2, get(K))),
    ...halfRound(R, L, PA),
    ...halfRound(L, R, PB),
    ...set(K, op(I32_ADD, get(K), i32(8))),
    ...op(BR_IF, op(I32_LT_U, get(K), op(I32_ADD, get(P), i32(64)))), 0,
    END,
    // Output halves swapped (the last round's swap undone), big-endian.
    ...Array.from({ length: LANES }, (_, j) => [
      ...op(I32_ADD, get(DST), get(O(j))), ...bswap(op(I32_XOR, get(R(j)), get(P17))), I32_STORE, 0, 0,
      ...op(I32_ADD, get(DST), get(O(j))), ...bswap(get(L(j))), I32_STORE, 0, 4,
    ]).flat(),
    ...set(I, op(I32_ADD, get(I), i32(8 * LANES))),
    BR, 0,
    END, END,
    END,
  ];
  const code = [...uleb(1), ...uleb(localCount), I32, ...body];

  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 4, I32, I32, I32, I32, 0]),
    ...section(2, [1, ...name("e"), ...name("m"), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("ecb"), 0x00, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}
