/**
 * `struct ifreq`, the argument of the interface ioctls (TUNSETIFF,
 * SIOCGIFTXQLEN, SIOCSIFTXQLEN): 40 bytes, the interface name at 0..15 and
 * the request's value at 16.
 */

/** Longest interface name (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** Builds the 40-byte `struct ifreq` for TUNSETIFF: name at 0..15, flags (u16, host order) at 16. */
export function encodeIfreq(name: string, flags: number): Uint8Array {
  const ifreq = new Uint8Array(40);
  const bytes = new TextEncoder().encode(name);
  if (bytes.length > IFNAME_MAX) throw new Error(`tun: device name "${name}" is longer than ${IFNAME_MAX} bytes`);
  ifreq.set(bytes, 0);
  new DataView(ifreq.buffer).setUint16(16, flags, true);
  return ifreq;
}

/** The interface name the kernel wrote back into an ifreq. */
export function ifreqName(ifreq: Uint8Array): string {
  const end = ifreq.indexOf(0);
  return new TextDecoder().decode(ifreq.subarray(0, end < 0 || end > 16 ? 16 : end));
}

