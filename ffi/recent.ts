/**
 * Remembering what was computed for the last few objects seen, by identity.
 *
 * The idle path's lookups that cost microseconds when the caches are cold (a
 * buffer's address through `ptr()`, an array's `.buffer` and a `WeakMap`)
 * are made for one of a few arrays at each call site: a lone packet's, a
 * batch's, a cipher's scratch, with an encrypting and a decrypting side
 * taking turns. Remembering the last {@link RECENT_SLOTS} of them makes
 * those lookups once per array. Used by the Bun address caches
 * (bun_address.ts) and the WebAssembly Blowfish (src/crypto/blowfish_wasm.ts).
 */

/** How many keys a {@link rememberRecent} function remembers. */
export const RECENT_SLOTS = 4;

/**
 * Returns `compute` with the results for the last {@link RECENT_SLOTS} keys
 * remembered (compared with `===`; the oldest is replaced). The remembered
 * keys and values are held, so they stay alive while remembered.
 */
export function rememberRecent<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  // Four plain slots rather than arrays: on a cold idle packet every load counts.
  let k0: K | null = null, k1: K | null = null, k2: K | null = null, k3: K | null = null;
  let v0: V | undefined, v1: V | undefined, v2: V | undefined, v3: V | undefined;
  let next = 0;
  return (key) => {
    if (key === k0) return v0 as V;
    if (key === k1) return v1 as V;
    if (key === k2) return v2 as V;
    if (key === k3) return v3 as V;
    const value = compute(key);
    switch (next) {
      case 0: k0 = key; v0 = value; break;
      case 1: k1 = key; v1 = value; break;
      case 2: k2 = key; v2 = value; break;
      default: k3 = key; v3 = value;
    }
    next = (next + 1) % RECENT_SLOTS;
    return value;
  };
}
