/**
 * The Bun backend of {@link LibLzo}: liblzo2 through `bun:ffi`. Buffers are
 * passed as pointers, nothing is copied; the calls remember their buffers'
 * addresses (see `bun_address.ts`).
 */
import { FFIType, ptr } from "bun:ffi";
import { addressCache, dlopenFirst, STABLE_BYTES } from "./bun_address.ts";
import { LIBLZO_NAMES, LZO1X_1_15_MEM_COMPRESS, type LibLzo } from "./liblzo.ts";

const { i32, u32, u64, ptr: pointer } = FFIType;

// int f(const lzo_bytep src, lzo_uint src_len, lzo_bytep dst, lzo_uintp dst_len, lzo_voidp wrkmem)
const CODEC = { args: [pointer, u64, pointer, pointer, pointer], returns: i32 } as const;

const SYMBOLS = {
  __lzo_init_v2: { args: [u32, i32, i32, i32, i32, i32, i32, i32, i32, i32], returns: i32 },
  lzo1x_1_15_compress: CODEC,
  lzo1x_decompress_safe: CODEC,
} as const;

/** Loads liblzo2 and runs its `lzo_init()` check, or returns null when it is missing or refuses this ABI. */
export function createBunLibLzo(): LibLzo | null {
  const lib = dlopenFirst(LIBLZO_NAMES, SYMBOLS);
  if (lib === null) return null;
  const c = lib.symbols;
  // lzo_init() as the LZO 2.10 header expands it on LP64: the version, then sizeof short, int,
  // long, lzo_uint32_t, lzo_uint, dict entry, char *, void *, lzo_callback_t. 0 = LZO_E_OK.
  if (c.__lzo_init_v2(0x20a0, 2, 4, 8, 4, 8, 8, 8, 8, 48) !== 0) {
    lib.close();
    return null;
  }
  // Passed as the array itself on every call, never as a saved address: the closures must hold
  // it, or the collector frees its storage while C still writes there (that crashed Bun).
  const workmem = new Uint8Array(LZO1X_1_15_MEM_COMPRESS);
  // The lzo_uint (64-bit) length in and out, used through its low word: no BigInt per packet.
  // Its storage (an ArrayBuffer of its own) does not move, and the closures below hold it.
  const length = new Uint32Array(new ArrayBuffer(STABLE_BYTES), 0, 2);
  const lengthAt = ptr(length);
  const srcAddress = addressCache(), dstAddress = addressCache();

  return {
    compress(src, srcAt, n, dst, dstAt): number {
      length[0] = 0;
      length[1] = 0;
      const rc = c.lzo1x_1_15_compress(srcAddress(src, srcAt), n, dstAddress(dst, dstAt), lengthAt, workmem);
      return rc === 0 ? length[0]! : rc;
    },
    decompress(src, srcAt, n, dst, dstAt, max): number {
      length[0] = max;
      length[1] = 0;
      const rc = c.lzo1x_decompress_safe(srcAddress(src, srcAt), n, dstAddress(dst, dstAt), lengthAt, null);
      return rc === 0 ? length[0]! : rc;
    },
  };
}
