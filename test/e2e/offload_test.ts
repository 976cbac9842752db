/**
 * TUN offloads against a kernel that verifies checksums: a forwarder
 * (offload_helper.ts) owns an offloading TUN "toff0" in namespace a and a
 * plain TUN "toff1" moved into namespace b. Traffic from a to b leaves a's
 * kernel as 64 KiB TSO/USO super-segments and partial-checksum ACKs, goes
 * through GsoSplitter, and enters b through a TUN without offloads — so b's
 * kernel checks every IP, TCP and UDP checksum, as a real vtund peer's would.
 * Traffic from b to a goes through GroCoalescer into a's GSO-capable TUN.
 *
 *     ns a: 10.203.0.1 / fd00:203::1  toff0 ⇄ [split | coalesce] ⇄ toff1  10.203.0.2 / fd00:203::2 :ns b
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4 } from "../../src/device/tun.ts";
import { ROOT, withNetns, type Daemon, type Host, type NetnsPair } from "./harness.ts";

const HELPER = join(ROOT, "test/e2e/offload_helper.ts");
const A4 = "10.203.0.1";
const B4 = "10.203.0.2";
const A6 = "fd00:203::1";
const B6 = "fd00:203::2";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

interface Stats {
  split: { packets: number; gso: number; segments: number; finished: number; dropped: number; drops: string };
  gro: { in: number; out: number; merged: number; mergedSegments: number };
  writeErrors: Record<string, number>;
}

/** The forwarder's latest counters (it prints them whenever they change). */
async function stats(fwd: Daemon): Promise<Stats> {
  await new Promise((r) => setTimeout(r, 250));
  const lines = fwd.output.split("\n").filter((l) => l.startsWith("STATS "));
  assert.ok(lines.length > 0, `no STATS from the forwarder:\n${fwd.output}`);
  return JSON.parse(lines.at(-1)!.slice(6)) as Stats;
}

async function sh(host: Host, argv: string[]): Promise<string> {
  const r = await host.exec(argv);
  assert.equal(r.code, 0, `${argv.join(" ")} in ${host.ns}: ${r.stderr}`);
  return r.stdout;
}

/** Kernel counters of a namespace (absolute, history untouched). */
async function nstat(host: Host, names: string[]): Promise<Record<string, number>> {
  const out = await sh(host, ["nstat", "-asz", ...names]);
  const result: Record<string, number> = {};
  for (const line of out.split("\n")) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) result[m[1]!] = Number(m[2]);
  }
  return result;
}

/** Sends `bytes` over TCP from `from` to a socat sink on `to` at `addr`; returns what arrived. */
async function transfer(pair: NetnsPair, from: Host, to: Host, addr: string, bytes: Uint8Array, tag: string): Promise<Uint8Array> {
  const src = join(pair.dir, `${tag}.src`);
  const dst = join(pair.dir, `${tag}.dst`);
  writeFileSync(src, bytes);
  const listen = addr.includes(":") ? `TCP6-LISTEN:7000,bind=[${addr}],reuseaddr` : `TCP-LISTEN:7000,bind=${addr},reuseaddr`;
  const target = addr.includes(":") ? `TCP6:[${addr}]:7000` : `TCP:${addr}:7000`;
  const sink = pair.start(to, `sink ${tag}`, ["socat", "-u", listen, `CREATE:${dst}`]);
  await new Promise((r) => setTimeout(r, 300));
  const sent = await from.exec(["socat", "-u", `FILE:${src}`, `${target},connect-timeout=5`], { timeoutMs: 60_000 });
  assert.equal(sent.code, 0, `socat sender (${tag}) failed: ${sent.stderr}`);
  assert.equal(await sink.waitExit(30_000), 0, `socat receiver (${tag}) failed`);
  return readFileSync(dst);
}

describe("TUN offloads: split and coalesced packets are accepted by the kernel", () => {
  it("TCP over IPv4 and IPv6 both ways, and USO, with checksums verified by a plain receiver", async () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (network namespaces, TUN devices)");
    if (!existsSync("/dev/net/tun")) throw new Error("this test needs /dev/net/tun");
    await withNetns({}, async (pair) => {
      const a = pair.server;
      const b = pair.client;
      const fwd = pair.start(a, "offload forwarder", [process.execPath, HELPER, "forward"]);
      const offloads = Number((await fwd.waitFor(/READY (\d+)/))[1]);
      const want = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
      assert.equal(offloads & want, want, `kernel accepted offloads 0x${offloads.toString(16)}`);

      // toff1 was created in a (where the forwarder runs); its fd keeps working in b.
      await sh(a, ["ip", "link", "set", "toff1", "netns", b.ns]);
      for (const [host, dev, me, peer, me6, peer6] of [[a, "toff0", A4, B4, A6, B6], [b, "toff1", B4, A4, B6, A6]] as const) {
        await sh(host, ["ip", "link", "set", dev, "up"]);
        await sh(host, ["ip", "addr", "add", me, "peer", peer, "dev", dev]);
        await sh(host, ["ip", "-6", "addr", "add", `${me6}/128`, "dev", dev, "nodad"]);
        await sh(host, ["ip", "-6", "route", "add", `${peer6}/128`, "dev", dev]);
      }
      const ping = await a.ping(B4, 3, 1200);
      assert.equal(ping.received, 3, ping.output);

      const payload = new Uint8Array(randomBytes(24 * 1024 * 1024));
      const before = await stats(fwd);
      for (const [from, to, addr, tag] of [[a, b, B4, "a-to-b-v4"], [a, b, B6, "a-to-b-v6"]] as const) {
        const got = await transfer(pair, from, to, addr, payload, tag);
        assert.equal(got.length, payload.length, `${tag}: length`);
        assert.equal(sha256(got), sha256(payload), `${tag}: content`);
      }
      const afterSplit = await stats(fwd);
      assert.ok(afterSplit.split.gso - before.split.gso > 50, `a's kernel sent super-segments: ${JSON.stringify(afterSplit)}`);
      assert.ok(afterSplit.split.finished > 0, "partial-checksum packets were finished");
      assert.equal(afterSplit.split.dropped, 0, afterSplit.split.drops);

      for (const [from, to, addr, tag] of [[b, a, A4, "b-to-a-v4"], [b, a, A6, "b-to-a-v6"]] as const) {
        const got = await transfer(pair, from, to, addr, payload, tag);
        assert.equal(sha256(got), sha256(payload), `${tag}: content`);
      }
      const afterGro = await stats(fwd);
      assert.ok(afterGro.gro.merged > 50, `segments from b were merged: ${JSON.stringify(afterGro.gro)}`);
      assert.ok(afterGro.gro.mergedSegments > 4 * afterGro.gro.merged, `runs are long: ${JSON.stringify(afterGro.gro)}`);

      // UDP with UDP_SEGMENT: one send becomes one USO packet on toff0 (when the kernel accepted USO).
      const udpBytes = 46 * 1400 * 20;
      const recv = pair.start(b, "udp receiver", [process.execPath, HELPER, "udp-recv", B4, "7001", String(udpBytes)]);
      await recv.waitFor(/LISTENING/);
      const gsoBeforeUdp = (await stats(fwd)).split.gso;
      const send = await a.exec([process.execPath, HELPER, "udp-send", B4, "7001", String(udpBytes)]);
      assert.equal(send.code, 0, send.stderr);
      const udp = (await recv.waitFor(/UDP (\d+) (\d+) (\d+)/, 25_000)).slice(1).map(Number);
      if (udp[0] !== udpBytes / 1400 || udp[2] !== 0) {
        const drops = await nstat(b, ["UdpRcvbufErrors", "UdpInErrors", "UdpInCsumErrors", "IpInDiscards"]);
        assert.deepEqual(udp, [udpBytes / 1400, udpBytes, 0], `every datagram arrived intact (b: ${JSON.stringify(drops)}, forwarder: ${JSON.stringify(await stats(fwd))})`);
      }
      const afterUdp = await stats(fwd);
      if (offloads & TUN_F_USO4) assert.ok(afterUdp.split.gso - gsoBeforeUdp >= 10, `USO packets were split: ${JSON.stringify(afterUdp.split)}`);

      // The receivers' kernels verified every checksum: none failed.
      const counters = ["TcpInCsumErrors", "UdpInCsumErrors", "Udp6InCsumErrors", "IpInHdrErrors", "Ip6InHdrErrors"];
      for (const host of [a, b]) {
        const c = await nstat(host, counters);
        for (const name of counters) assert.equal(c[name] ?? 0, 0, `${host.ns}: ${name} = ${c[name]}`);
      }
      const retrans = await nstat(a, ["TcpRetransSegs"]);
      // (EIO from before both devices were up is expected, e.g. IPv6 autoconf packets.)
      assert.deepEqual(afterUdp.writeErrors, before.writeErrors, "no TUN write was refused once both were up");
      console.log(`offload e2e: offloads 0x${offloads.toString(16)}, ${JSON.stringify(afterUdp)}, a: ${JSON.stringify(retrans)}`);
    });
  });
});
