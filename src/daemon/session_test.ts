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
import { runClientSession, runServerSession, type SessionOutcome } from "./session.ts";

const base: SessionConfig = {
  name: "office",
  passwd: "s3cret",
  type: "tun",
  proto: "tcp",
  device: null,
  persist: "no",
  keepalive: null,
  timeout: 5,
  up: [{ program: null, args: "ip link set %% up", wait: true, delayAfter: 0 }],
  down: [{ program: null, args: "echo down", wait: true, delayAfter: 0 }],
  encrypt: null,
  compress: null,
  speed: null,
  stat: false,
  multi: "allow",
  srcaddr: null,
  natHack: null,
  tcpCongestion: null,
};

/** Runs a client and a server session against each other; `drive` acts once both links run. */
async function meet(
  serverSession: SessionConfig,
  clientSession: SessionConfig,
  drive: (pair: ReturnType<typeof memoryIoPair>) => Promise<void> | void = () => {},
  statIntervalMs?: number,
) {
  const pair = memoryIoPair();
  const { log } = memoryLogger();
  const sessions = new Map([[serverSession.name, serverSession]]);
  const server = runServerSession(pair.server, { handshakeTimeoutMs: 1000, findSession: (n) => sessions.get(n), statIntervalMs }, log);
  const client = runClientSession(pair.client, clientSession, { handshakeTimeoutMs: 1000, statIntervalMs }, log);
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

});

describe("sessions with the server's encryption, compression and options", () => {
  const variants: Array<[string, Partial<SessionConfig>]> = [
    ["tcp aes128cbc + zlib:6", { encrypt: 10, compress: { method: "zlib", level: 6 } }],
    ["udp blowfish128ofb + lzo:1", { proto: "udp", encrypt: 4, compress: { method: "lzo", level: 1 } }],
    ["tcp oldblowfish128ecb", { encrypt: 999 }],
    ["udp aes256cfb", { proto: "udp", encrypt: 15 }],
  ];
  for (const [label, extra] of variants) {
    it(`${label}: the client follows the server's FLAGS and packets cross intact`, async () => {
      const { pair, client } = await meet({ ...base, ...extra }, base, (p) => {
        const toServer = [ip(92), ip(1400), ip(33)];
        const toClient = [ip(60), ip(2048)];
        const cdev = p.client.record.devicesOpened[0]!;
        const sdev = p.server.record.devicesOpened[0]!;
        toServer.forEach((x) => cdev.inject(x));
        toClient.forEach((x) => sdev.inject(x));
        p.client.onStep = (_now, link) => {
          if (sdev.written.length === toServer.length && cdev.written.length === toClient.length) {
            assert.deepEqual(sdev.written, toServer);
            assert.deepEqual(cdev.written, toClient);
            link.stop("test done");
          }
          if (_now > 20_000) throw new Error("packets did not cross");
        };
      });
      assert.deepEqual(ended(client).end, { kind: "stopped", why: "test done" });
      assert.equal(pair.client.record.transport?.kind, extra.proto ?? "tcp");
    });
  }

  it("the server's session type decides the client's device type", async () => {
    const { pair } = await meet({ ...base, type: "ether" }, { ...base, type: "tun" }, (p) => {
      p.client.onStep = (_now, link) => link.stop("test done");
    });
    assert.deepEqual(pair.client.record.deviceTypes, ["ether"]);
    assert.deepEqual(pair.server.record.deviceTypes, ["ether"]);
  });

  it("speed: a shaped side asks for a device read one packet at a time, an unshaped one does not", async () => {
    // speed A:B — the server shapes what it sends at A, the client at B (learned from the server).
    const cases = [
      { speed: { toClient: 512, toServer: 256 }, server: [true], client: [true] },
      { speed: { toClient: 512, toServer: 0 }, server: [true], client: [false] },
      { speed: null, server: [false], client: [false] },
    ];
    for (const c of cases) {
      const { pair } = await meet({ ...base, speed: c.speed }, base, (p) => {
        p.client.onStep = (_now, link) => link.stop("test done");
      });
      assert.deepEqual(pair.server.record.deviceShaped, c.server, `server, speed ${JSON.stringify(c.speed)}`);
      assert.deepEqual(pair.client.record.deviceShaped, c.client, `client, speed ${JSON.stringify(c.speed)}`);
    }
  });

  it("tcp_congestion: each side asks for its own on the TCP data connection, and says so", async () => {
    const { pair } = await meet({ ...base, tcpCongestion: "reno" }, { ...base, tcpCongestion: "cubic" }, (p) => {
      p.client.onStep = (_now, link) => link.stop("test done");
    });
    assert.equal(pair.server.record.congestion, "reno");
    assert.equal(pair.client.record.congestion, "cubic");
    const { pair: plain } = await meet(base, base, (p) => {
      p.client.onStep = (_now, link) => link.stop("test done");
    });
    assert.equal(plain.server.record.congestion, null, "unset: the system's default");
    const { pair: udp } = await meet({ ...base, proto: "udp", tcpCongestion: "reno" }, base, (p) => {
      p.client.onStep = (_now, link) => link.stop("test done");
    });
    assert.equal(udp.server.record.congestion, undefined, "proto udp: no TCP data connection");
  });

  it("nat_hack server: only the server waits for the peer's first datagram", async () => {
    const { pair } = await meet({ ...base, proto: "udp", natHack: "server" }, { ...base, natHack: "server" }, (p) => {
      p.client.onStep = (_now, link) => link.stop("test done");
    });
    assert.equal(pair.server.record.awaitPeer, true);
    assert.equal(pair.client.record.awaitPeer, false, "a client with nat_hack server does not wait");
  });

  it("stat yes: vtund's line format with the device-side and wire-side byte counts", async () => {
    const { pair } = await meet({ ...base, stat: true }, { ...base, stat: true }, (p) => {
      p.client.record.devicesOpened[0]!.inject(ip(100));
      p.client.onStep = (now, link) => {
        if (now > 1_100) link.stop("test done");
      };
    }, 500);
    // The memory io steps 10 ms per step on a simulated clock: 500 ms intervals → 2 lines.
    assert.ok(pair.client.record.stat.length >= 1, "client wrote stat lines");
    assert.match(pair.client.record.stat[0]!, /^[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} 0 100 0 100\n$/);
  });
});
