/**
 * Refused sessions and lone daemons: a wrong password or an unknown session
 * name (against vtunts and against the real vtund, both directions), a client
 * with no server, and a server with no client. In every case no TUN device
 * may ever appear, and the client must exit non-zero with a clear message.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, requireE2E, VTUNTS, withNetns, type Host, type NetnsPair } from "./harness.ts";
import { startClient, startServer, type Impl, type TunnelSpec } from "./tunnels.ts";

/** Samples the TUN devices of both namespaces every 50 ms while `body` runs; returns all seen. */
async function watchDevices<T>(pair: NetnsPair, body: () => Promise<T>): Promise<{ result: T; seen: Set<string> }> {
  const seen = new Set<string>();
  let watching = true;
  const sample = async (host: Host) => {
    for (const d of await host.tunDevices()) seen.add(`${host.ns}:${d}`);
  };
  const watcher = (async () => {
    while (watching) {
      await Promise.all([sample(pair.server), sample(pair.client)]);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { result: await body(), seen };
  } finally {
    watching = false;
    await watcher;
  }
}

describe("authentication refused", () => {
  const cases: Array<{ name: string; server: Impl; client: Impl; spec: TunnelSpec }> = [];
  for (const [server, client] of [["vtunts", "vtunts"], ["vtund", "vtunts"], ["vtunts", "vtund"]] as Array<[Impl, Impl]>) {
    for (const proto of ["tcp", "udp"] as const) {
      cases.push({ name: `wrong password, ${proto}`, server, client, spec: { proto, passwd: "right-one", clientPasswd: "wrong-one" } });
    }
    cases.push({ name: "unknown session", server, client, spec: { proto: "tcp", clientSession: "nosuchsession" } });
  }

  for (const c of cases) {
    it(`${c.name}: ${c.client} client → ${c.server} server: denied, no device anywhere`, async () => {
      requireE2E({ vtund: c.server === "vtund" || c.client === "vtund" });
      await withNetns({ ipv6: false }, async (pair) => {
        const { result: code, seen } = await watchDevices(pair, async () => {
          const server = await startServer(pair, c.server, c.spec);
          const client = startClient(pair, c.client, c.spec);
          const exit = await client.waitExit(15_000);
          if (c.server === "vtunts") await server.waitFor(/Denied connection from 10\.201\.0\.2:\d+: (wrong password|unknown session "nosuchsession")/);
          // Give a late device (there must be none) a chance to show up.
          await new Promise((r) => setTimeout(r, 500));
          assert.ok(server.running, "the server keeps running after a refusal");
          return { exit, client };
        });
        assert.deepEqual([...seen], [], "no TUN device may appear before authentication succeeds");
        if (c.client === "vtunts") {
          assert.equal(code.exit, 3, "vtunts client exits with 3 (denied)");
          assert.match(code.client.output, /Connection denied by 10\.201\.0\.1/);
        } else {
          assert.match(code.client.output, /Connection denied by 10\.201\.0\.1/);
        }
      });
    });
  }
});

describe("lone daemons", () => {
  it("a client with no server exits 2 with a clear message and creates no device", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const { result: client, seen } = await watchDevices(pair, async () => {
        const d = startClient(pair, "vtunts", { proto: "tcp" });
        assert.equal(await d.waitExit(10_000), 2);
        return d;
      });
      assert.match(client.output, /connect to 10\.201\.0\.1:5000: ECONNREFUSED/);
      assert.deepEqual([...seen], []);
    });
  });

  it("a client whose server does not answer gives up after its timeout (-t)", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      // Drop everything the server namespace receives: SYNs go unanswered.
      await pair.server.exec(["ip", "link", "set", "veth0", "down"]);
      await pair.client.exec(["ip", "neigh", "replace", "10.201.0.1", "lladdr", "02:00:00:00:00:01", "dev", "veth0"]);
      const started = Date.now();
      const d = startClient(pair, "vtunts", { proto: "tcp" }, ["-t", "2"]);
      assert.equal(await d.waitExit(10_000), 2);
      assert.ok(Date.now() - started < 6000, "gave up within the timeout");
      assert.match(d.output, /ETIMEDOUT/);
      assert.deepEqual(await pair.client.tunDevices(), []);
    });
  });

  it("a persistent client with no server keeps retrying, with no device, until told to stop", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const { seen } = await watchDevices(pair, async () => {
        const d = startClient(pair, "vtunts", { proto: "tcp" }, ["-p"]);
        await d.waitFor(/reconnecting in 5 s/, 10_000);
        assert.ok(d.running, "persist keeps it running");
        d.signal("SIGTERM");
        assert.equal(await d.waitExit(5000), 0);
      });
      assert.deepEqual([...seen], []);
    });
  });

  it("a server with no client listens and creates no device", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const { seen } = await watchDevices(pair, async () => {
        const d = await startServer(pair, "vtunts", { proto: "udp" });
        await new Promise((r) => setTimeout(r, 1500));
        assert.ok(d.running);
      });
      assert.deepEqual([...seen], []);
    });
  });

  it("a connection that never speaks is refused after the handshake timeout", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const server = await startServer(pair, "vtunts", { proto: "tcp", serverTimeout: 3 });
      // socat connects, reads the greeting, sends nothing; the server gives up after `timeout` (3 s here).
      const silent = pair.start(pair.client, "silent client", ["socat", "-u", "TCP:10.201.0.1:5000", "STDOUT"]);
      await server.waitFor(/Denied connection from 10\.201\.0\.2:\d+: no HOST request within 3 s/, 8_000);
      assert.equal(await silent.waitExit(5000), 0, "the server closed the connection");
      assert.match(silent.output, /^VTUN server ver 3\.X/);
      assert.match(silent.output, /ERR\n/);
      assert.deepEqual(await pair.server.tunDevices(), []);
      assert.ok(await eventually(async () => server.running, 100));
    });
  });
});

void VTUNTS;
