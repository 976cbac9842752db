/**
 * Dead peers and clean shutdowns. A peer that is killed (or frozen, so it
 * vanishes without a word) must be noticed within the keepalive window, and
 * the survivor must remove its device (running its down commands). SIGTERM
 * ends a session cleanly on both ends.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { eventually, requireE2E, withNetns, type Host } from "./harness.ts";
import { startClient, startServer, waitTunnelUp, writeServerToml, type Impl } from "./tunnels.ts";

/** keepalive 1:2 gives up after 3–4 s of silence (vtund's rule: (2 + 2) intervals at most); allow scheduling slack. */
const KEEPALIVE = "1:2";
const WINDOW_MS = 4000 + 4000;

const noDevice = (host: Host) => async () => (await host.tunDevices()).length === 0;

describe("dead peers", () => {
  it("tcp: client killed → the server sees the connection end and removes its device", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const server = await startServer(pair, "vtunts", { proto: "tcp", keepalive: KEEPALIVE });
      const client = startClient(pair, "vtunts", { proto: "tcp", clientKeepalive: KEEPALIVE });
      assert.ok(await waitTunnelUp(pair));
      client.signal("SIGKILL");
      assert.ok(await eventually(noDevice(pair.server), 3000), "server device removed");
      await server.waitFor(/Connection closed by other side/);
      assert.ok(server.running, "the server goes on listening");
    });
  });

  for (const [survivor, deadImpl] of [["server", "vtunts"], ["server", "vtund"], ["client", "vtunts"], ["client", "vtund"]] as Array<["server" | "client", Impl]>) {
    it(`udp: ${survivor} survives a frozen ${deadImpl} peer: keepalive timeout within the window, device removed`, async () => {
      requireE2E({ vtund: deadImpl === "vtund" });
      await withNetns({ ipv6: deadImpl !== "vtund" }, async (pair) => {
        const marker = join(pair.dir, "down-ran");
        const spec = {
          proto: "udp" as const,
          keepalive: KEEPALIVE,
          clientKeepalive: KEEPALIVE,
          serverDown: survivor === "server" ? [`touch ${marker}`] : [],
          clientDown: survivor === "client" ? [`touch ${marker}`] : [],
        };
        const server = await startServer(pair, survivor === "server" ? "vtunts" : deadImpl, spec);
        const client = startClient(pair, survivor === "client" ? "vtunts" : deadImpl, spec);
        assert.ok(await waitTunnelUp(pair));
        const [alive, dead, aliveHost] = survivor === "server" ? [server, client, pair.server] : [client, server, pair.client];
        // SIGSTOP: the peer's socket stays open, so no ICMP error tells us; only keepalive can.
        dead.signal("SIGSTOP");
        const frozenAt = Date.now();
        assert.ok(await eventually(noDevice(aliveHost), WINDOW_MS, 200), "device removed within the keepalive window");
        const took = Date.now() - frozenAt;
        assert.ok(took >= 2000, `not before keepalive could have decided (took ${took} ms)`);
        await alive.waitFor(/network timeout/);
        assert.ok(existsSync(marker), "down commands ran");
        if (survivor === "client") assert.equal(await alive.waitExit(5000), 5, "client exits 5 (link lost)");
        dead.signal("SIGKILL");
      });
    });
  }

  it("udp: server killed → the client notices (port unreachable) and removes its device", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const spec = { proto: "udp" as const, keepalive: KEEPALIVE, clientKeepalive: KEEPALIVE };
      const server = await startServer(pair, "vtunts", spec);
      const client = startClient(pair, "vtunts", spec);
      assert.ok(await waitTunnelUp(pair));
      server.signal("SIGKILL");
      assert.ok(await eventually(noDevice(pair.client), WINDOW_MS, 200));
      assert.equal(await client.waitExit(5000), 5);
    });
  });
});

describe("clean shutdown", () => {
  for (const proto of ["tcp", "udp"] as const) {
    it(`${proto}: SIGTERM to the server ends the session on both ends, down commands run, exit 0`, async () => {
      requireE2E();
      await withNetns({}, async (pair) => {
        const serverMarker = join(pair.dir, "server-down");
        const clientMarker = join(pair.dir, "client-down");
        const spec = { proto, serverDown: [`touch ${serverMarker}`], clientDown: [`touch ${clientMarker}`] };
        const server = await startServer(pair, "vtunts", spec);
        const client = startClient(pair, "vtunts", spec);
        assert.ok(await waitTunnelUp(pair));
        server.signal("SIGTERM");
        assert.equal(await server.waitExit(10_000), 0);
        assert.equal(await client.waitExit(10_000), 0, "the peer closed the session: a normal end");
        assert.deepEqual(await pair.server.tunDevices(), []);
        assert.deepEqual(await pair.client.tunDevices(), []);
        assert.ok(existsSync(serverMarker) && existsSync(clientMarker), "down commands ran on both ends");
        assert.match(client.output, /Connection closed by other side/);
      });
    });
  }

  it("SIGINT to a client ends it with exit 0; the real vtund server notices", async () => {
    requireE2E({ vtund: true });
    await withNetns({ ipv6: false }, async (pair) => {
      const spec = { proto: "tcp" as const };
      const server = await startServer(pair, "vtund", spec);
      const client = startClient(pair, "vtunts", spec);
      assert.ok(await waitTunnelUp(pair));
      client.signal("SIGINT");
      assert.equal(await client.waitExit(10_000), 0);
      assert.deepEqual(await pair.client.tunDevices(), []);
      await server.waitFor(/Connection closed by other side|Session e2e closed/);
      assert.ok(await eventually(noDevice(pair.server), 5000));
    });
  });

  it("SIGHUP makes a client reconnect at once", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const spec = { proto: "tcp" as const };
      const server = await startServer(pair, "vtunts", spec);
      const client = startClient(pair, "vtunts", spec, ["-p"]);
      assert.ok(await waitTunnelUp(pair));
      client.signal("SIGHUP");
      await client.waitFor(/SIGHUP received: reestablishing connection/);
      await client.waitFor(/opened[^\n]*\n[\s\S]*opened/, 5000);
      assert.ok(await waitTunnelUp(pair, 5000));
      assert.equal((server.output.match(/Session e2e\[[^\]]+\] opened/g) ?? []).length, 2);
    });
  });
});

describe("reconnecting clients", () => {
  /** The interface index of the client's tun device, or null. */
  const ifindex = async (host: Host) => {
    const r = await host.exec(["ip", "-o", "link", "show", "type", "tun"]);
    const m = /^(\d+): /.exec(r.stdout);
    return m ? Number(m[1]) : null;
  };

  for (const persist of ["yes", "keep"] as const) {
    it(`persist ${persist}: the client reconnects after the server restarts${persist === "keep" ? ", keeping its device" : ", with a new device"}`, async () => {
      requireE2E();
      await withNetns({}, async (pair) => {
        const spec = { proto: "tcp" as const, clientPersist: persist };
        const first = await startServer(pair, "vtunts", spec);
        const client = startClient(pair, "vtunts", spec);
        assert.ok(await waitTunnelUp(pair));
        const before = await ifindex(pair.client);
        assert.notEqual(before, null);
        await first.stop();
        await client.waitFor(/reconnecting in 5 s/);
        const during = await ifindex(pair.client);
        if (persist === "keep") assert.equal(during, before, "persist keep holds the device between sessions");
        else assert.equal(during, null, "persist yes closes the device between sessions");
        await startServer(pair, "vtunts", spec);
        assert.ok(await waitTunnelUp(pair, 15_000), "tunnel back after the reconnect");
        const after = await ifindex(pair.client);
        if (persist === "keep") assert.equal(after, before, "same device after the reconnect");
        else assert.notEqual(after, null);
        assert.ok(client.running);
      });
    });
  }

  it("SIGHUP makes the server re-read its configuration for new connections", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const server = await startServer(pair, "vtunts", { proto: "tcp", passwd: "old-password" });
      const refused = startClient(pair, "vtunts", { proto: "tcp", passwd: "new-password" });
      assert.equal(await refused.waitExit(10_000), 3);
      writeServerToml(pair, { proto: "tcp", passwd: "new-password" });
      server.signal("SIGHUP");
      await server.waitFor(/SIGHUP: configuration re-read, 1 session\(s\) defined/);
      startClient(pair, "vtunts", { proto: "tcp", passwd: "new-password" });
      assert.ok(await waitTunnelUp(pair), "the new password works without a restart");
    });
  });

  it("SIGHUP with a tcp_congestion this kernel lacks keeps the old configuration", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const server = await startServer(pair, "vtunts", { proto: "tcp" });
      writeServerToml(pair, { proto: "tcp", serverTcpCongestion: "vtunts_nosuch" });
      server.signal("SIGHUP");
      await server.waitFor(/SIGHUP: keeping the old configuration: [^\n]*hosts\.e2e\.tcp_congestion: tcp_congestion "vtunts_nosuch": ENOENT/);
      startClient(pair, "vtunts", { proto: "tcp" });
      assert.ok(await waitTunnelUp(pair), "sessions still come up, with the old configuration");
      assert.ok(server.running);
    });
  });
});
