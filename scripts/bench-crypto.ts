/**
 * Micro-benchmark of the encryption stages: encode + decode of 1400-byte
 * packets per cipher and backend, in MB/s of packet payload (one encode and
 * one decode per packet, like one packet going through both tunnel ends).
 *   bun scripts/bench-crypto.ts [--seconds 0.5] [--size 1400]
 */
import { parseArgs } from "node:util";
import { createCipherStage, type CipherBackend } from "../src/crypto/cipher_stage.ts";
import { CIPHERS } from "../src/crypto/ciphers.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "0.5" }, size: { type: "string", default: "1400" } } });
const seconds = Number(values.seconds);
const size = Number(values.size);
const packet = new Uint8Array(size).map((_, i) => i * 7);
const wire = new Uint8Array(size + 256);
const out = new Uint8Array(size + 256);

function measure(cipher: number, backend: CipherBackend): { mbps: number; backend: string } {
  const tx = createCipherStage(cipher, "bench", { backend });
  const rx = createCipherStage(cipher, "bench", { backend });
  const round = (): void => {
    const n = tx.encode(packet, 0, size, wire, 0);
    if (rx.decode(wire, 0, n, out, 0) !== size) throw new Error(`${cipher}: round trip failed`);
  };
  for (let i = 0; i < 2000; i++) round(); // warm up
  let packets = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 200; i++) round();
    packets += 200;
    now = performance.now();
  }
  return { mbps: (packets * size) / ((now - start) / 1000) / 1e6, backend: tx.backend };
}

console.log(`cipher              auto (backend)       pure       [${size}-byte packets, encode+decode, MB/s]`);
for (const info of CIPHERS.values()) {
  const auto = measure(info.number, "auto");
  const pure = measure(info.number, "pure");
  console.log(`${`${info.number} ${info.name}`.padEnd(20)}${auto.mbps.toFixed(0).padStart(6)} (${auto.backend})`.padEnd(40) + pure.mbps.toFixed(0).padStart(8));
}
