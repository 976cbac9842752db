/**
 * Two daemons' session logic meeting in one process (in-memory control
 * connection, devices and data channel): authentication decides everything,
 * no device exists before it succeeds, the server's config decides the
 * session, packets cross both ways, and endings are reported as they happened.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SessionConfig } from "../config/config.ts";
import { memoryLogger } from "../log.ts";
import { memoryIoPair } from "../../test/fakes/memory_io.ts";
import { flagsFor, runClientSession, runServerSession, unsupportedFlags, type SessionOutcome } from "./session.ts";

const base: SessionConfig = {
  name: "office",
  passwd: "s3cret",
  type: "tun",
  proto: "tcp",
  device: null,
  persist: "no",
  keepalive: null,
  timeout: 5,
  up: ["ip link set %% up"],
  down: ["echo down"],
};

/** Runs a client and a server session against each other; `drive` acts once both links run. */
async function meet(
  serverSession: SessionConfig,
  clientSession: SessionConfig,
  drive: (pair: ReturnType<typeof memoryIoPair>) => Promise<void> | void = () => {},
) {
  const pair = memoryIoPair();
  const { log } = memoryLogger();
  const sessions = new Map([[serverSession.name, serverSession]]);
  const server = runServerSession(pair.server, { handshakeTimeoutMs: 1000, findSession: (n) => sessions.get(n) }, log);
  const client = runClientSession(pair.client, clientSession, { handshakeTimeoutMs: 1000 }, log);
  const driving = (async () => {
    // Wait until both links run (or a session already ended), then let the test act.
    for (let i = 0; i < 500 && !(pair.client.link && pair.server.link); i++) {
      if (await Promise.race([Promise.all([server, client]).then(() => true), new Promise((r) => setTimeout(() => r(false), 2))])) return;
    }
    if (pair.client.link && pair.server.link) await drive(pair);
  })();
  const [s, c] = await Promise.all([server, client]);
  await driving;
  return { pair, server: s, client: c };
}

const ip = (n: number) => {
  const p = new Uint8Array(n).map((_, i) => (i * 13 + n) & 0xff);
  p[0] = 0x45;
  return p;
};

function ended(o: SessionOutcome): Extract<SessionOutcome, { kind: "ended" }> {
  assert.equal(o.kind, "ended", JSON.stringify(o));
  return o as Extract<SessionOutcome, { kind: "ended" }>;
}

describe("sessions meeting in memory", () => {
  for (const proto of ["tcp", "udp"] as const) {
    it(`${proto}: authenticates, opens one device per side only then, moves packets both ways`, async () => {
      const { pair, server, client } = await meet({ ...base, proto }, base, (p) => {
        const toServer = [ip(92), ip(1500)];
        const toClient = [ip(60)];
        const cdev = p.client.record.devicesOpened[0]!;
        const sdev = p.server.record.devicesOpened[0]!;
        toServer.forEach((x) => cdev.inject(x));
        toClient.forEach((x) => sdev.inject(x));
        p.client.onStep = (_now, link) => {
          if (sdev.written.length === 2 && cdev.written.length === 1) {
            assert.deepEqual(sdev.written, toServer);
            assert.deepEqual(cdev.written, toClient);
            link.stop("test done");
          }
        };
      });
      assert.equal(pair.client.record.devicesOpened.length, 1);
      assert.equal(pair.server.record.devicesOpened.length, 1);
      assert.equal(pair.client.record.transport?.kind, proto, "the client follows the server's proto");
      assert.deepEqual(ended(client).end, { kind: "stopped", why: "test done" });
      assert.deepEqual(ended(server).end, { kind: "closed-by-peer" }, "the client said goodbye with CONN_CLOSE");
      assert.equal(pair.client.record.up.length, 1);
      assert.equal(pair.client.record.down.length, 1, "down commands ran after the link ended");
      assert.ok(pair.client.record.devicesOpened[0]!.closed && pair.server.record.devicesOpened[0]!.closed, "devices closed");
      if (proto === "udp") assert.equal(pair.server.record.up[0]!.remote.port, 40000, "the UDP peer port came from the exchange");
    });
  }

  it("wrong password: denied on both sides, and no device is ever opened", async () => {
    const { pair, server, client } = await meet(base, { ...base, passwd: "guess" });
    assert.equal(client.kind, "denied");
    assert.equal(server.kind, "denied");
    assert.match((server as { message: string }).message, /Denied connection from 10\.201\.0\.2:40000: wrong password/);
    assert.equal(pair.client.record.devicesOpened.length, 0);
    assert.equal(pair.server.record.devicesOpened.length, 0);
    assert.equal(pair.client.record.up.length + pair.server.record.up.length, 0, "no up commands");
  });

  it("unknown session: denied the same way", async () => {
    const { pair, server, client } = await meet(base, { ...base, name: "home" });
    assert.equal(client.kind, "denied");
    assert.match((server as { message: string }).message, /unknown session "home"/);
    assert.equal(pair.client.record.devicesOpened.length + pair.server.record.devicesOpened.length, 0);
  });

  it("keepalive: the server's setting enables it, each side times out a silent peer", async () => {
    const server = { ...base, keepalive: { intervalSec: 1, maxFail: 1 } };
    const client = { ...base, keepalive: null }; // client timing defaults to 30:4 when the server asks
    const { pair, server: s } = await meet(server, client, (p) => {
      p.client.record.transport!.cut = true; // the client's frames vanish from now on
      p.server.onStep = (now) => {
        if (now > 10_000) throw new Error("server never timed out");
      };
      p.client.onStep = (_now, link) => {
        if (p.server.link?.end) link.stop("server gone");
      };
    });
    assert.deepEqual(ended(s).end, { kind: "timeout" });
    assert.ok(pair.server.record.ranMs >= 3000 && pair.server.record.ranMs <= 3100, `timed out at (1+2)×1 s, ran ${pair.server.record.ranMs} ms`);
  });

  it("the client refuses flags it cannot honour instead of running without them", () => {
    assert.equal(unsupportedFlags(flagsFor(base)), null);
    assert.match(unsupportedFlags({ ...flagsFor(base), encrypt: 10 }) ?? "", /encryption/);
    assert.match(unsupportedFlags({ ...flagsFor(base), compress: { method: "lzo", level: 9 } }) ?? "", /lzo/);
    assert.match(unsupportedFlags({ ...flagsFor(base), type: "ether" }) ?? "", /ether/);
  });
});
