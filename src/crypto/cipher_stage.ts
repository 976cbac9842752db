/**
 * vtund's encryption as a frame stage (modules `lfd_encrypt` and
 * `lfd_legacy_encrypt`, vtun-protocol.md §6):
 *
 * - ECB ciphers (1, 5, 9, 13): each frame is the ECB ciphertext of the packet
 *   padded to the block size (n = bs − len mod bs bytes of value n; when
 *   n = bs the first bs−1 pad bytes are random).
 * - Legacy (999, vtun 2.x): Blowfish-ECB with front padding `[n] 0…0 data`.
 * - Chained ciphers (CBC/CFB/OFB): one continuous context per direction, a
 *   "seq#" (or "rsyn") block before every packet, and an ECB-encrypted
 *   "ivec" header on the first frame after each (re)initialisation; the
 *   receiver's resync state machine (gibberish counter, dummy frame) is
 *   reproduced exactly, see {@link StreamStage}.
 *
 * There is no integrity check: vtund has none.
 */
import type { FrameStage } from "../link/pipeline.ts";
import { CIPHERS, type CipherInfo } from "./ciphers.ts";
import { CipherEngine, type CipherBackend } from "./engine.ts";
import { deriveKey } from "./key.ts";
import type { ModeContext } from "./modes.ts";
import { copyBytes } from "../bytes.ts";

export type { CipherBackend } from "./engine.ts";
/** The cipher table and key derivation, re-exported for callers that only import this module. */
export { CIPHERS, cipherByName, cipherName, effectiveCipher, LEGACY_CIPHER, type CipherInfo } from "./ciphers.ts";
export { deriveKey } from "./key.ts";

/** What vtunts says once about vtund's ciphers (server: at start; client: when a server asks for one). */
export const LEGACY_CIPHER_WARNING =
  "vtund's ciphers are unauthenticated (no integrity check, key = MD5 of the password): " +
  "anyone on the path can alter or replay traffic; a modern authenticated mode is planned";

/** An encryption stage: a {@link FrameStage} that may ask the link for a dummy frame. */
export interface CipherStage extends FrameStage {
  /** The cipher this stage runs. */
  readonly cipher: CipherInfo;
  /** Where the data-path contexts come from (node:crypto or TypeScript). */
  readonly backend: "native" | "pure";
  /**
   * True once after `encode()` or `decode()` decided that the link must send
   * vtund's 1-byte "dummy" frame (resync of §6.5): the link then encodes a
   * 1-byte packet through the whole pipeline and sends it like any data frame.
   * Check it after every encode and decode (vtund checks once per loop turn).
   */
  takeDummyRequest(): boolean;
}

/** Options of {@link createCipherStage}. */
export interface CipherStageOptions {
  /** Fills a buffer with random bytes (default: crypto.getRandomValues). Used for IVs, the seq# start and pad bytes. */
  random?: (buf: Uint8Array) => void;
  /** Milliseconds clock for the 2-second gibberish window (default: Date.now). */
  now?: () => number;
  /** Where cipher contexts come from (default "auto"). */
  backend?: CipherBackend;
  /** Receives vtund's informational messages ("AES-128-CBC encryption initialized", "decrypt_buf: bad pad length"). */
  log?: (message: string) => void;
}

/**
 * A stage for cipher number `cipher` (§6.1) keyed from `password` (§6.2).
 * Contexts are created here, once per session. Throws for numbers not in the
 * table (see `effectiveCipher` for vtund's client-side fallback), and if
 * backend "native" is asked for but node:crypto lacks the cipher.
 */
export function createCipherStage(cipher: number, password: string | Uint8Array, options: CipherStageOptions = {}): CipherStage {
  const info = CIPHERS.get(cipher);
  if (info === undefined) throw new Error(`unknown cipher number ${cipher} (vtund knows 1-16 and 999)`);
  const key = deriveKey(password, info.keyBytes);
  const env = new StageEnv(options);
  if (info.mode === "legacy") return new LegacyStage(info, new CipherEngine(info.algorithm, key, null, env.backend), env);
  if (info.mode === "ecb") return new EcbStage(info, new CipherEngine(info.algorithm, key, null, env.backend), env);
  return new StreamStage(info, new CipherEngine(info.algorithm, key, info.mode, env.backend), env);
}

/** Random bytes from a pool refilled in bulk, the clock and the logger. */
class StageEnv {
  readonly backend: CipherBackend;
  readonly now: () => number;
  readonly log: (message: string) => void;
  private readonly fill: (buf: Uint8Array) => void;
  private readonly pool = new Uint8Array(1024);
  private poolAt = this.pool.length;

  constructor(options: CipherStageOptions) {
    this.backend = options.backend ?? "auto";
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.fill = options.random ?? ((buf) => void crypto.getRandomValues(buf));
  }

  /** Writes `n` (≤ 64) random bytes to `dst[at…]`. */
  random(dst: Uint8Array, at: number, n: number): void {
    if (this.poolAt + n > this.pool.length) {
      this.fill(this.pool);
      this.poolAt = 0;
    }
    const p = this.pool;
    for (let i = 0; i < n; i++) dst[at + i] = p[this.poolAt + i]!;
    this.poolAt += n;
  }

  /** A random 32-bit unsigned number. */
  random32(): number {
    const b = new Uint8Array(4);
    this.random(b, 0, 4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }
}

/** Copies `src[srcAt, srcAt+length)` to `dst[dstAt…]` unless it is already there. */
function place(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void {
  if (length === 0 || (src === dst && srcAt === dstAt)) return;
  copyBytes(src, srcAt, length, dst, dstAt);
}

/**
 * Writes vtund's padding at `dst[end…]` after `length` bytes of data: n = bs − length mod bs
 * bytes of value n, or bs−1 random bytes and then bs when n = bs. Returns n.
 */
function padTail(dst: Uint8Array, end: number, length: number, bs: number, env: StageEnv): number {
  const n = bs - (length & (bs - 1));
  if (n === bs) {
    env.random(dst, end, bs - 1);
    dst[end + bs - 1] = bs;
  } else {
    // A loop, not fill(): fill is a host call that costs microseconds in the first packet after an idle pause.
    for (let i = end; i < end + n; i++) dst[i] = n;
  }
  return n;
}

/** ECB ciphers 1, 5, 9, 13. */
class EcbStage implements CipherStage {
  readonly name: string;
  readonly overhead: number;
  readonly backend: "native" | "pure";
  private readonly bs: number;
  private readonly enc: ModeContext;
  private readonly dec: ModeContext;

  constructor(readonly cipher: CipherInfo, engine: CipherEngine, private readonly env: StageEnv) {
    this.name = cipher.name;
    this.bs = cipher.blockSize;
    this.overhead = cipher.blockSize;
    this.enc = engine.ecb(true);
    this.dec = engine.ecb(false);
    this.backend = engine.ecbBackend;
    env.log(`${cipher.label} encryption initialized`);
  }

  takeDummyRequest(): boolean {
    return false;
  }

  encode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    // vtund's encrypt_buf returns 0 (nothing sent) for an empty packet.
    if (length === 0) return 0;
    place(src, srcAt, length, dst, dstAt);
    const total = length + padTail(dst, dstAt + length, length, this.bs, this.env);
    this.enc.update(dst, dstAt, total, dst, dstAt);
    return total;
  }

  decode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const bs = this.bs;
    if (length === 0 || (length & (bs - 1)) !== 0) return 0;
    this.dec.update(src, srcAt, length, dst, dstAt);
    const pad = dst[dstAt + length - 1]!;
    // vtund reads the pad as a signed char: 0x80..0xff are negative, hence < 1.
    if (pad < 1 || pad > bs) {
      this.env.log("decrypt_buf: bad pad length");
      return 0;
    }
    return length - pad;
  }
}

/** vtun 2.x Blowfish (999): front padding `[n] [n-1 zeros] data`, ECB. */
class LegacyStage implements CipherStage {
  readonly name: string;
  readonly overhead = 8;
  readonly backend: "native" | "pure";
  private readonly enc: ModeContext;
  private readonly dec: ModeContext;

  constructor(readonly cipher: CipherInfo, engine: CipherEngine, private readonly env: StageEnv) {
    this.name = cipher.name;
    this.enc = engine.ecb(true);
    this.dec = engine.ecb(false);
    this.backend = engine.ecbBackend;
  }

  takeDummyRequest(): boolean {
    return false;
  }

  encode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const n = 8 - (length & 7);
    place(src, srcAt, length, dst, dstAt + n);
    dst[dstAt] = n;
    for (let i = dstAt + 1; i < dstAt + n; i++) dst[i] = 0; // not fill(), see padTail
    this.enc.update(dst, dstAt, length + n, dst, dstAt);
    return length + n;
  }

  decode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    if (length === 0 || (length & 7) !== 0) return 0;
    this.dec.update(src, srcAt, length, dst, dstAt);
    const n = dst[dstAt]!;
    if (n < 1 || n > 8) {
      this.env.log("legacy_decrypt_buf: bad pad length");
      return 0;
    }
    copyBytes(dst, dstAt + n, length - n, dst, dstAt); // not copyWithin(), see padTail
    return length - n;
  }
}

// vtund's cipher_enc_state / cipher_dec_state values (CODE is the ECB state).
const INIT = 0;
const SEQUENCE = 2;
const REQ_INIT = 3;

/** Out-of-sync frames before the local sender is forced to re-init (MAX_GIBBERISH). */
export const MAX_GIBBERISH = 10;
/** Milliseconds after the first out-of-sync frame that also force it (MAX_GIBBERISH_TIME = 2 s). */
export const MAX_GIBBERISH_MS = 2000;

const TAG_IVEC = [0x69, 0x76, 0x65, 0x63] as const; // "ivec"
const TAG_SEQ = [0x73, 0x65, 0x71, 0x23] as const; // "seq#"
const TAG_RSYN = [0x72, 0x73, 0x79, 0x6e] as const; // "rsyn"

function hasTag(buf: Uint8Array, at: number, tag: readonly number[]): boolean {
  return buf[at] === tag[0] && buf[at + 1] === tag[1] && buf[at + 2] === tag[2] && buf[at + 3] === tag[3];
}

/**
 * CBC/CFB/OFB ciphers with vtund's side-band (§6.5).
 *
 * Sender: INIT → the frame starts with ECB(K, "ivec" ‖ IV ‖ random) and a new
 * mode context from IV; SEQUENCE → context continues; REQ_INIT → the block
 * before the packet says "rsyn" instead of "seq#" and a dummy frame follows.
 * The block is "seq#"/"rsyn" ‖ BE32 seq ‖ zeros (the payload is left intact,
 * unlike 64-bit vtund with Blowfish, which zeroes its first 4 bytes).
 *
 * Receiver: INIT → expects the "ivec" header, else counts gibberish (1st: ask
 * the peer with rsyn + dummy; 10th or 2 s later: dummy and fresh ivec of our
 * own); SEQUENCE → "seq#" passes, "rsyn" makes our sender re-init, anything
 * else drops the frame and (unless we are already resyncing) goes back to INIT
 * and asks the peer for a re-init.
 *
 * Receiving is more forgiving than vtund's where the wire allows it: CBC and
 * CFB need no resync after a lost frame (only the seq# block is garbled), and
 * an "ivec" frame is taken in any state.
 *
 * One deviation, on purpose: where vtund would send "rsyn" with a sender
 * context it never created or had just discarded, this stage starts the frame
 * with a fresh ivec header as well (a vtund receiver handles ivec + rsyn).
 */
class StreamStage implements CipherStage {
  readonly name: string;
  readonly overhead: number;
  readonly backend: "native" | "pure";
  private readonly bs: number;
  private readonly ecbEnc: ModeContext;
  private readonly ecbDec: ModeContext;
  private readonly header: Uint8Array;
  private readonly iv: Uint8Array;

  private encState = INIT;
  private decState = INIT;
  private encCtx: ModeContext | null = null;
  private decCtx: ModeContext | null = null;
  private seq: number;
  private gibberish = 0;
  private gibStart = 0;
  private dummy = false;
  private encLogged = false;
  private decLogged = false;
  /** CBC and CFB recover from a lost frame by themselves (see decode). */
  private readonly selfSynchronizing: boolean;

  constructor(readonly cipher: CipherInfo, private readonly engine: CipherEngine, private readonly env: StageEnv) {
    this.name = cipher.name;
    this.bs = cipher.blockSize;
    // ivec header (2 blocks) + seq# block + up to one block of pad.
    this.overhead = 4 * cipher.blockSize;
    this.ecbEnc = engine.ecb(true);
    this.ecbDec = engine.ecb(false);
    this.backend = engine.modeBackend ?? engine.ecbBackend;
    this.header = new Uint8Array(2 * this.bs);
    this.iv = new Uint8Array(this.bs);
    this.seq = env.random32();
    this.selfSynchronizing = cipher.mode === "cbc" || cipher.mode === "cfb";
  }

  takeDummyRequest(): boolean {
    const d = this.dummy;
    this.dummy = false;
    return d;
  }

  encode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const bs = this.bs;
    const withIvec = this.encState === INIT || this.encCtx === null;
    const bodyAt = withIvec ? dstAt + 2 * bs : dstAt;
    // Payload first: dst may overlap src, and the header and seq block are written after.
    place(src, srcAt, length, dst, bodyAt + bs);
    const total = bs + length + padTail(dst, bodyAt + bs + length, length, bs, this.env);

    const tag = this.encState === REQ_INIT ? TAG_RSYN : TAG_SEQ;
    const seq = this.seq;
    dst[bodyAt] = tag[0];
    dst[bodyAt + 1] = tag[1];
    dst[bodyAt + 2] = tag[2];
    dst[bodyAt + 3] = tag[3];
    dst[bodyAt + 4] = seq >>> 24;
    dst[bodyAt + 5] = seq >>> 16;
    dst[bodyAt + 6] = seq >>> 8;
    dst[bodyAt + 7] = seq;
    for (let i = bodyAt + 8; i < bodyAt + bs; i++) dst[i] = 0; // not fill(), see padTail

    if (withIvec) {
      const iv = this.iv;
      this.env.random(iv, 0, bs);
      dst[dstAt] = TAG_IVEC[0];
      dst[dstAt + 1] = TAG_IVEC[1];
      dst[dstAt + 2] = TAG_IVEC[2];
      dst[dstAt + 3] = TAG_IVEC[3];
      dst.set(iv, dstAt + 4);
      this.env.random(dst, dstAt + 4 + bs, bs - 4);
      this.ecbEnc.update(dst, dstAt, 2 * bs, dst, dstAt);
      this.encCtx = this.engine.mode(true, iv);
      if (!this.encLogged) {
        this.env.log(`${this.cipher.label} encryption initialized`);
        this.encLogged = true;
      }
    }
    (this.encCtx as ModeContext).update(dst, bodyAt, total, dst, bodyAt);
    this.seq = (seq + 1) >>> 0;
    if (this.encState === REQ_INIT) this.dummy = true; // vtund: send_a_packet after an rsyn
    this.encState = SEQUENCE;
    return bodyAt - dstAt + total;
  }

  decode(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): number {
    const bs = this.bs;
    let at = srcAt;
    let len = length;
    if (len === 0) return 0;
    if (this.decState === INIT) {
      if (len < 2 * bs || !this.startFromIvec(src, at)) {
        this.countGibberish();
        return 0;
      }
      at += 2 * bs;
      len -= 2 * bs;
      if (len === 0) return 0;
    }
    if ((len & (bs - 1)) !== 0) {
      // Never sent by vtund; the peer's context has moved on by bytes ours has not seen.
      this.outOfSync();
      return 0;
    }
    (this.decCtx as ModeContext).update(src, at, len, dst, dstAt);
    let tagged = hasTag(dst, dstAt, TAG_SEQ) || hasTag(dst, dstAt, TAG_RSYN);
    if (!tagged && len >= 3 * bs && this.startFromIvec(src, at)) {
      // The peer started a fresh chain while we thought we were in sequence (it answered an
      // "rsyn" of ours whose reply we did not wait for, or it gave up on us): take it.
      at += 2 * bs;
      len -= 2 * bs;
      (this.decCtx as ModeContext).update(src, at, len, dst, dstAt);
      tagged = hasTag(dst, dstAt, TAG_SEQ) || hasTag(dst, dstAt, TAG_RSYN);
    }
    if (tagged) {
      // "seq#": a normal frame; the sequence number is never checked (nor by vtund).
      // "rsyn": the peer lost our stream: the next frame we send carries a new ivec.
      if (hasTag(dst, dstAt, TAG_RSYN) && this.encState !== INIT) {
        this.encState = INIT;
        this.encCtx = null;
      }
    } else if (this.selfSynchronizing) {
      // CBC and full-block CFB decrypt each block from the ciphertext block before it, so
      // after a lost frame only this frame's first block (the "seq#" block) is wrong: the
      // packet is intact and the chain is whole again. No resync needed (vtund would drop
      // the frame and resync, losing a few more packets on a lossy UDP path).
    } else {
      this.outOfSync();
      return 0;
    }
    len -= bs;
    if (len === 0) return 0;
    const pad = dst[dstAt + bs + len - 1]!;
    if (pad < 1 || pad > bs) {
      this.env.log("decrypt_buf: bad pad length");
      return 0;
    }
    const out = len - pad;
    copyBytes(dst, dstAt + bs, out, dst, dstAt); // not copyWithin(), see padTail
    return out;
  }

  /**
   * If `src[at…]` starts with an ECB-encrypted "ivec" header, starts a new
   * decoding chain from its IV (state SEQUENCE) and returns true.
   */
  private startFromIvec(src: Uint8Array, at: number): boolean {
    const bs = this.bs;
    this.ecbDec.update(src, at, 2 * bs, this.header, 0);
    if (!hasTag(this.header, 0, TAG_IVEC)) return false;
    this.decCtx = this.engine.mode(false, this.header.subarray(4, 4 + bs));
    this.header.fill(0);
    this.decState = SEQUENCE;
    this.gibberish = 0;
    this.gibStart = 0;
    if (!this.decLogged) {
      this.env.log(`${this.cipher.label} decryption initialized`);
      this.decLogged = true;
    }
    return true;
  }

  /** vtund's recv_ib_mesg for a block that is neither "seq#" nor "rsyn". */
  private outOfSync(): void {
    if (this.decState !== INIT && this.encState !== REQ_INIT && this.encState !== INIT) {
      this.decState = INIT;
      this.decCtx = null;
      this.encState = REQ_INIT;
    }
  }

  /** vtund's recv_msg for a frame without the "ivec" header while waiting for one. */
  private countGibberish(): void {
    this.gibberish++;
    if (this.gibberish === 1) {
      this.gibStart = this.env.now();
      // Ask the peer to re-init: our next frame says "rsyn"; send one right away.
      this.encState = REQ_INIT;
      this.dummy = true;
    }
    if (this.gibberish >= MAX_GIBBERISH || this.env.now() - this.gibStart >= MAX_GIBBERISH_MS) {
      this.gibberish = 0;
      this.gibStart = 0;
      this.dummy = true;
      if (this.encState !== INIT) {
        this.encState = INIT;
        this.encCtx = null;
      }
    }
  }
}
