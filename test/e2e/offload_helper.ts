/**
 * Helper processes for offload_test.ts, run inside the test's namespaces:
 *
 *   forward        opens "toff0" (IFF_VNET_HDR + offloads) and "toff1" (plain)
 *                  and forwards between them: toff0 → GsoSplitter → toff1, and
 *                  toff1 → GroCoalescer → toff0 (one flush per read batch, as
 *                  the link will). Prints "READY <offloads>", then "STATS <json>"
 *                  whenever the counters change.
 *   udp-send A P N sends N bytes to A:P with UDP_SEGMENT 1400 (one send per
 *                  64 KiB): datagram k of a send is filled with byte k.
 *   udp-recv A P N receives datagrams on A:P until N bytes arrived; prints
 *                  "UDP <count> <bytes> <bad>" (bad: a datagram whose bytes differ).
 */
import { loadLibc } from "../../ffi/index.ts";
import { AF_INET, POLLIN, SOCK_DGRAM, SOL_SOCKET } from "../../ffi/libc.ts";
import { GroCoalescer } from "../../src/device/gro_coalesce.ts";
import { GsoSplitter } from "../../src/device/gso_split.ts";
import { openTun } from "../../src/device/tun.ts";
import { encodeSockaddr } from "../../src/transport/address.ts";

/** Segment size the UDP sender asks for. */
export const UDP_SEGMENT_SIZE = 1400;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const SO_RCVBUFFORCE = 33;
const BATCH = 64;

async function forward(): Promise<void> {
  const libc = await loadLibc();
  const off = openTun(libc, { mode: "tun", name: "toff0", offload: true });
  const plain = openTun(libc, { mode: "tun", name: "toff1" });
  const writeErrors: Record<string, number> = {};
  const countError = (dir: string, r: number) => {
    const key = `${dir}${r}`;
    writeErrors[key] = (writeErrors[key] ?? 0) + 1;
  };
  const splitter = new GsoSplitter();
  const gro = new GroCoalescer((b, o, l) => {
    const r = off.writePacket(b, o, l);
    if (r < 0) countError("toff0:", r);
  });
  const toPlain = (b: Uint8Array, o: number, l: number) => {
    const r = plain.writePacket(b, o, l);
    if (r < 0) countError("toff1:", r);
  };
  console.log(`READY ${off.offloads}`);

  const fds = new Uint8Array(16);
  const fdv = new Int32Array(fds.buffer);
  const ev = new Int16Array(fds.buffer);
  fdv[0] = off.fd;
  fdv[2] = plain.fd;
  ev[2] = POLLIN;
  ev[6] = POLLIN;
  const buf = new Uint8Array(10 + 65536 + 64);
  let last = "";
  let lastPrint = 0;
  for (;;) {
    libc.poll(fds, 2, 100);
    if (ev[3]) {
      for (let i = 0; i < BATCH; i++) {
        const n = off.readPacket(buf, 0, buf.length);
        if (n === 0) break;
        splitter.split(buf, 0, n, toPlain);
      }
    }
    if (ev[7]) {
      for (let i = 0; i < BATCH; i++) {
        const n = plain.readPacket(buf, 10, buf.length - 10);
        if (n === 0) break;
        gro.add(buf, 10, n);
      }
      gro.flush();
    }
    const now = performance.now();
    if (now - lastPrint > 100) {
      lastPrint = now;
      const s = splitter.stats;
      const g = gro.stats;
      const line = JSON.stringify({
        split: { packets: s.packets, gso: s.gsoPackets, segments: s.segments, finished: s.checksumsFinished, dropped: s.dropped, drops: s.dropSummary() },
        gro: { in: g.packetsIn, out: g.packetsOut, merged: g.merged, mergedSegments: g.mergedSegments },
        writeErrors,
      });
      if (line !== last) console.log(`STATS ${line}`);
      last = line;
    }
  }
}

async function udpSend(address: string, port: number, total: number): Promise<void> {
  const libc = await loadLibc();
  const fd = libc.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new Error(`socket: ${fd}`);
  const sa = encodeSockaddr({ family: 4, address, port });
  if (libc.connect(fd, sa, sa.length) < 0) throw new Error("connect failed");
  const size = new Uint8Array(4);
  new DataView(size.buffer).setInt32(0, UDP_SEGMENT_SIZE, true);
  const r = libc.setsockopt(fd, SOL_UDP, UDP_SEGMENT, size, 4);
  if (r < 0) throw new Error(`setsockopt(UDP_SEGMENT): ${r}`);
  const perSend = 46 * UDP_SEGMENT_SIZE; // 64400 bytes: one GSO datagram train under 64 KiB
  const buf = new Uint8Array(perSend);
  for (let k = 0; k < 46; k++) buf.fill(k, k * UDP_SEGMENT_SIZE, (k + 1) * UDP_SEGMENT_SIZE);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(perSend, total - sent);
    const w = libc.send(fd, buf, 0, n, 0);
    if (w < 0) throw new Error(`send: ${w}`);
    sent += w;
    await new Promise((res) => setTimeout(res, 5)); // pace: UDP has no flow control
  }
  libc.close(fd);
}

async function udpRecv(address: string, port: number, total: number): Promise<void> {
  const libc = await loadLibc();
  const fd = libc.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new Error(`socket: ${fd}`);
  // Room for the whole transfer (about 2.3 KiB of buffer per datagram): UDP
  // has no flow control, and a receiver slowed by a busy CI host must not
  // turn into loss that looks like a checksum failure.
  const rcvbuf = new Uint8Array(4);
  new DataView(rcvbuf.buffer).setInt32(0, 8 << 20, true);
  if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf, 4) < 0) throw new Error("setsockopt(SO_RCVBUFFORCE) failed");
  const sa = encodeSockaddr({ family: 4, address, port });
  if (libc.bind(fd, sa, sa.length) < 0) throw new Error("bind failed");
  console.log("LISTENING");
  const pfd = new Uint8Array(8);
  new Int32Array(pfd.buffer)[0] = fd;
  new Int16Array(pfd.buffer)[2] = POLLIN;
  const buf = new Uint8Array(65536);
  let count = 0;
  let bytes = 0;
  let bad = 0;
  const deadline = performance.now() + 20_000;
  while (bytes < total && performance.now() < deadline) {
    if (libc.poll(pfd, 1, 100) <= 0) continue;
    const n = libc.recv(fd, buf, 0, buf.length, 0);
    if (n < 0) throw new Error(`recv: ${n}`);
    count++;
    bytes += n;
    let same = n > 0;
    for (let i = 1; i < n && same; i++) same = buf[i] === buf[0];
    if (!same) bad++;
  }
  console.log(`UDP ${count} ${bytes} ${bad}`);
  libc.close(fd);
}

const [mode, a, p, n] = process.argv.slice(2);
if (mode === "forward") await forward();
else if (mode === "udp-send") await udpSend(a!, Number(p), Number(n));
else if (mode === "udp-recv") await udpRecv(a!, Number(p), Number(n));
else throw new Error(`offload_helper: unknown mode ${mode}`);
