/**
 * Handshake records: every handshake message, both ways, is one fixed 50-byte
 * block holding ASCII text that ends in "\n", padded with NUL bytes.
 */

/** Size of every handshake record (vtund's VTUN_MESG_SIZE). */
export const RECORD_SIZE = 50;

const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");

/** Encodes `text` (which must end in "\n" and fit in 49 bytes) as a 50-byte record. */
export function encodeRecord(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length > RECORD_SIZE - 1) {
    throw new RangeError(`handshake: record "${text.trimEnd()}" is longer than ${RECORD_SIZE - 1} bytes`);
  }
  const record = new Uint8Array(RECORD_SIZE);
  record.set(bytes);
  return record;
}

/**
 * Decodes a 50-byte record to its text line, without the line end: the text
 * stops at the first NUL, "\r" or "\n" (byte 49 is always treated as NUL, as vtund does).
 */
export function decodeRecord(record: Uint8Array): string {
  let end = 0;
  const limit = Math.min(record.length, RECORD_SIZE - 1);
  while (end < limit) {
    const c = record[end]!;
    if (c === 0 || c === 0x0a || c === 0x0d) break;
    end++;
  }
  return decoder.decode(record.subarray(0, end));
}
