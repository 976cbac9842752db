/**
 * The daemon's fast data path against the real vtund: vtunts opens its TUN
 * with offloads (TSO super-segments are cut into packets, received segments
 * merged into GSO writes) and batches UDP with UDP_SEGMENT/UDP_GRO, while
 * vtund — no offloads, one datagram per frame — must see an ordinary peer.
 * Each case moves 8 MiB each way through the tunnel (sha256-checked) and
 * reads the kernels' checksum-error counters: vtund's kernel verifies every
 * packet vtunts cut up. Over UDP vtunts also must not fragment: its TCP
 * segments are cut to fit one datagram. The fallbacks (VTUNTS_DISABLE) must
 * carry the same data.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireE2E, withNetns, type Daemon, type Host, type NetnsPair } from "./harness.ts";
import { startClient, startServer, TUN_CLIENT, TUN_SERVER, waitTunnelUp, type Impl, type TunnelSpec } from "./tunnels.ts";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const MIB = 1024 * 1024;

/** Kernel counters that must stay 0: a packet with a bad IP, TCP or UDP checksum. */
const CSUM_COUNTERS = ["TcpInCsumErrors", "UdpInCsumErrors", "IpExtInCsumErrors", "IpInHdrErrors"];

/** Kernel counters of a namespace (absolute; nstat's history untouched). */
async function nstat(host: Host, names: string[]): Promise<Record<string, number>> {
  const r = await host.exec(["nstat", "-asz", ...names]);
  assert.equal(r.code, 0, `nstat in ${host.ns}: ${r.stderr}`);
  const result: Record<string, number> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) result[m[1]!] = Number(m[2]);
  }
  for (const n of names) assert.ok(n in result, `nstat knows ${n}: ${r.stdout}`);
  return result;
}

/** Sends `bytes` over TCP from `from` to a socat sink on `to` listening on `addr`; returns what arrived. */
async function transfer(pair: NetnsPair, from: Host, to: Host, addr: string, bytes: Uint8Array, tag: string): Promise<Uint8Array> {
  const src = join(pair.dir, `${tag}.src`);
  const dst = join(pair.dir, `${tag}.dst`);
  writeFileSync(src, bytes);
  const sink = pair.start(to, `sink ${tag}`, ["socat", "-u", `TCP-LISTEN:7000,bind=${addr},reuseaddr`, `CREATE:${dst}`]);
  await new Promise((r) => setTimeout(r, 300));
  const sent = await from.exec(["socat", "-u", `FILE:${src}`, `TCP:${addr}:7000,connect-timeout=5`], { timeoutMs: 60_000 });
  assert.equal(sent.code, 0, `socat sender (${tag}) failed: ${sent.stderr}`);
  assert.equal(await sink.waitExit(30_000), 0, `socat receiver (${tag}) failed`);
  return readFileSync(dst);
}

interface Case {
  proto: "tcp" | "udp";
  server: Impl;
  client: Impl;
  /** VTUNTS_DISABLE for the vtunts ends ("" = everything on). */
  disable: string;
}

const CASES: Case[] = [];
for (const proto of ["tcp", "udp"] as const) {
  CASES.push({ proto, server: "vtund", client: "vtunts", disable: "" });
  CASES.push({ proto, server: "vtunts", client: "vtund", disable: "" });
}
CASES.push({ proto: "tcp", server: "vtund", client: "vtunts", disable: "tun-offload" });
CASES.push({ proto: "udp", server: "vtunts", client: "vtund", disable: "tun-offload,udp-gso,udp-gro" });
CASES.push({ proto: "udp", server: "vtunts", client: "vtunts", disable: "" });
CASES.push({ proto: "udp", server: "vtunts", client: "vtunts", disable: "udp-gso,udp-gro" });

describe("offloaded data path against vtund", () => {
  for (const c of CASES) {
    const label = `${c.proto}: ${c.client} client → ${c.server} server${c.disable ? `, VTUNTS_DISABLE=${c.disable}` : ", offloads on"}`;
    it(`${label}: 8 MiB each way intact, no checksum errors`, async () => {
      const withVtund = c.server === "vtund" || c.client === "vtund";
      requireE2E({ vtund: withVtund });
      await withNetns({ ipv6: false }, async (pair) => {
        const spec: TunnelSpec = { proto: c.proto, vtuntsEnv: { VTUNTS_DISABLE: c.disable } };
        const server = await startServer(pair, c.server, spec);
        const client = startClient(pair, c.client, spec);
        assert.ok(await waitTunnelUp(pair), "tunnel did not come up");

        // Each vtunts end says which path it took.
        const ends: Array<[Daemon, Host]> = [];
        if (c.server === "vtunts") ends.push([server, pair.server]);
        if (c.client === "vtunts") ends.push([client, pair.client]);
        for (const [d] of ends) {
          const tunOffload = !c.disable.includes("tun-offload");
          await d.waitFor(tunOffload ? /TUN offloads on \(csum tso4 tso6/ : /TUN offloads disabled/, 5000);
          if (c.proto === "udp") {
            const gso = !c.disable.includes("udp-gso");
            await d.waitFor(new RegExp(`UDP_SEGMENT\\) ${gso ? "on" : "off"}, receive coalescing \\(UDP_GRO\\) ${gso ? "on" : "off"}`), 5000);
          }
        }

        const up = new Uint8Array(randomBytes(8 * MIB));
        const down = new Uint8Array(randomBytes(8 * MIB));
        const gotUp = await transfer(pair, pair.client, pair.server, TUN_SERVER, up, "up");
        assert.equal(gotUp.length, up.length, "client → server: length");
        assert.equal(sha256(gotUp), sha256(up), "client → server: content");
        const gotDown = await transfer(pair, pair.server, pair.client, TUN_CLIENT, down, "down");
        assert.equal(gotDown.length, down.length, "server → client: length");
        assert.equal(sha256(gotDown), sha256(down), "server → client: content");

        for (const host of [pair.server, pair.client]) {
          const counters = await nstat(host, CSUM_COUNTERS);
          for (const name of CSUM_COUNTERS) assert.equal(counters[name], 0, `${name} in ${host.ns}: ${JSON.stringify(counters)}`);
        }
        if (c.proto === "udp" && !c.disable.includes("tun-offload")) {
          // TCP segments were cut to fit a datagram: the vtunts ends never fragment.
          for (const [, host] of ends) {
            const { IpFragCreates } = await nstat(host, ["IpFragCreates"]);
            assert.equal(IpFragCreates, 0, `IP fragments created in ${host.ns}`);
          }
          // vtund sends full-size packets as 1530-byte datagrams, which a 1500-byte veth must fragment.
          const vtundHost = c.server === "vtund" ? pair.server : c.client === "vtund" ? pair.client : null;
          if (vtundHost) assert.ok((await nstat(vtundHost, ["IpFragCreates"])).IpFragCreates! > 0, "vtund's side fragments (the check is not vacuous)");
        }
        assert.ok(server.running && client.running, "both daemons still run");
      });
    });
  }
});
