/**
 * vtunts on different runtimes at the two ends of one tunnel: every ordered
 * pair of Bun (the built dist/vtunts), Deno and Node (the sources through
 * scripts/run), over TCP and UDP. Each checks pings with their payload, 4 MB
 * byte for byte through socat, and a clean SIGTERM shutdown on both sides
 * (exit 0, device gone). Independent of VTUNTS_RUNTIME: scripts/test runs this
 * file once.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireE2E, vtuntsFor, withNetns, type DaemonRuntime, type NetnsPair } from "./harness.ts";
import { startClient, startServer, TUN_SERVER, waitTunnelUp } from "./tunnels.ts";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Sends `bytes` from the client namespace to a socat listener behind the server's tunnel address. */
async function transfer(pair: NetnsPair, bytes: Uint8Array): Promise<Uint8Array> {
  const src = join(pair.dir, "payload.bin");
  const dst = join(pair.dir, "received.bin");
  writeFileSync(src, bytes);
  const sink = pair.start(pair.server, "socat sink", ["socat", "-u", `TCP-LISTEN:7000,bind=${TUN_SERVER},reuseaddr`, `CREATE:${dst}`]);
  await new Promise((r) => setTimeout(r, 300));
  const sent = await pair.client.exec(["socat", "-u", `FILE:${src}`, `TCP:${TUN_SERVER}:7000,connect-timeout=5`], { timeoutMs: 60_000 });
  assert.equal(sent.code, 0, `socat sender failed: ${sent.stderr}`);
  assert.equal(await sink.waitExit(30_000), 0, "socat receiver failed");
  return readFileSync(dst);
}

const RUNTIMES: DaemonRuntime[] = ["bun", "deno", "node"];

describe("vtunts on different runtimes at the two ends", () => {
  for (const proto of ["tcp", "udp"] as const) {
    for (const serverRuntime of RUNTIMES) {
      for (const clientRuntime of RUNTIMES) {
        if (serverRuntime === clientRuntime) continue;
        it(`${proto}: ${clientRuntime} client → ${serverRuntime} server`, async () => {
          requireE2E();
          await withNetns({}, async (pair) => {
            const spec = { proto, keepalive: "yes", serverRuntime, clientRuntime };
            const server = await startServer(pair, "vtunts", spec);
            const client = startClient(pair, "vtunts", spec);
            assert.ok(await waitTunnelUp(pair, 30_000), "tunnel did not come up");
            const version = (rt: DaemonRuntime) => `${vtuntsFor(rt)} is ${rt}`;
            assert.ok(server.running && client.running, `${version(serverRuntime)}, ${version(clientRuntime)}`);

            const ping = await pair.client.ping(TUN_SERVER, 5, 1200);
            assert.equal(ping.received, 5, ping.output);
            const payload = new Uint8Array(randomBytes(4 * 1024 * 1024));
            const received = await transfer(pair, payload);
            assert.equal(received.length, payload.length);
            assert.equal(sha256(received), sha256(payload));
            assert.match(client.output, new RegExp(`Remote server sends <${proto === "udp" ? "U" : "T"}uK>`));

            client.signal("SIGTERM");
            assert.equal(await client.waitExit(10_000), 0, "client exit code after SIGTERM");
            server.signal("SIGTERM");
            assert.equal(await server.waitExit(10_000), 0, "server exit code after SIGTERM");
            assert.deepEqual(await pair.client.tunDevices(), [], "client device removed");
            assert.deepEqual(await pair.server.tunDevices(), [], "server device removed");
          });
        });
      }
    }
  }
});
