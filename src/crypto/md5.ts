/** MD5, as vtund uses it to turn a password into a Blowfish key. */
import { createHash } from "node:crypto";

/** MD5 digest (16 bytes) of `data`. */
export function md5(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash("md5").update(data).digest());
}
