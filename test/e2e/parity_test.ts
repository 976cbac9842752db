/**
 * vtund parity beyond the data path: persist reconnects across a server
 * restart, `multi killold` / `multi no`, `stat` files and SIGUSR1, inetd mode,
 * `speed` shaping, `nat_hack`, `srcaddr`, and running from a classic
 * vtund.conf (directly and after `vtunts convert`). Each case checks traffic,
 * not only that processes started.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, requireE2E, SERVER_IP, TUN_SERVER, VTUNTS, withNetns } from "./harness.ts";
import { PASSWD, SESSION, startClient, startServer, vtundEnv, waitTunnelUp, type Impl } from "./tunnels.ts";

describe("persist", () => {
  for (const [serverImpl, clientImpl] of [["vtund", "vtunts"], ["vtunts", "vtund"]] as Array<[Impl, Impl]>) {
    it(`${clientImpl} client with persist yes reconnects after the ${serverImpl} server restarts`, async () => {
      requireE2E({ vtund: true });
      await withNetns({ ipv6: false }, async (pair) => {
        const spec = { proto: "tcp" as const, clientPersist: "yes" as const };
        const server = await startServer(pair, serverImpl, spec);
        startClient(pair, clientImpl, spec);
        assert.ok(await waitTunnelUp(pair), "first session up");
        await server.stop();
        assert.ok(await eventually(async () => (await pair.client.tunDevices()).length === 0, 10_000), "client device gone");
        await startServer(pair, serverImpl, spec);
        // vtund's and vtunts's reconnect delay is 5 s.
        assert.ok(await waitTunnelUp(pair, 20_000), "second session up after the restart");
        assert.equal((await pair.client.ping(TUN_SERVER, 3, 1000)).received, 3);
      });
    });
  }
});

describe("multi", () => {
  it("multi killold (vtunts server): a second client replaces the first (vtund clients)", async () => {
    requireE2E({ vtund: true });
    await withNetns({ ipv6: false }, async (pair) => {
      const spec = { proto: "tcp" as const, multi: "killold" as const };
      const server = await startServer(pair, "vtunts", spec);
      const first = startClient(pair, "vtund", spec);
      assert.ok(await waitTunnelUp(pair), "first session up");
      const second = startClient(pair, "vtund", spec);
      await server.waitFor(/multi killold/);
      await first.waitExit(10_000);
      assert.ok(await waitTunnelUp(pair, 15_000), "second session up");
      assert.ok(second.running, "the second client runs");
      assert.equal((await pair.client.ping(TUN_SERVER, 3, 1000)).received, 3);
    });
  });

  it("multi no (vtunts server): a second client is denied (vtunts client exits 3), the first keeps running", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const spec = { proto: "tcp" as const, multi: "no" as const };
      const server = await startServer(pair, "vtunts", spec);
      startClient(pair, "vtunts", spec);
      assert.ok(await waitTunnelUp(pair));
      const second = startClient(pair, "vtunts", spec);
      assert.equal(await second.waitExit(10_000), 3);
      await server.waitFor(/already in use/);
      assert.equal((await pair.client.ping(TUN_SERVER, 3, 1000)).received, 3, "first session unharmed");
    });
  });

  it("multi killold (vtund server): a second vtunts client replaces the first", async () => {
    requireE2E({ vtund: true });
    // vtund keeps its session locks in /var/lock/vtund and refuses sessions when it cannot.
    mkdirSync("/var/lock/vtund", { recursive: true });
    await withNetns({ ipv6: false }, async (pair) => {
      const spec = { proto: "tcp" as const, multi: "killold" as const };
      await startServer(pair, "vtund", spec);
      const first = startClient(pair, "vtunts", spec);
      assert.ok(await waitTunnelUp(pair));
      startClient(pair, "vtunts", spec);
      await first.waitExit(15_000);
      assert.ok(await waitTunnelUp(pair, 15_000), "second session up");
    });
  });
});

describe("stat and SIGUSR1", () => {
  it("stat yes writes vtund's line format; SIGUSR1 resets the counters", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const statDir = join(pair.dir, "stat");
      const conf = pair.file("s.toml", `[hosts.${SESSION}]
passwd = "${PASSWD}"
stat = "yes"
up = ["ip addr add 10.202.0.1/32 peer 10.202.0.2 dev %%", "ip link set %% up"]
`);
      const env = { ...process.env, VTUNTS_STAT_DIR: statDir, VTUNTS_STAT_INTERVAL: "1" };
      const server = pair.start(pair.server, "server", [VTUNTS, "-s", "-n", "-f", conf], env);
      await server.waitFor(/waiting for connections/);
      startClient(pair, "vtunts", { proto: "tcp" });
      assert.ok(await waitTunnelUp(pair));
      assert.equal((await pair.client.ping(TUN_SERVER, 5, 1000)).received, 5);
      const file = join(statDir, SESSION);
      const lines = () => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : []);
      assert.ok(await eventually(async () => lines().length >= 2, 5000), "stat lines written");
      const last = lines().at(-1)!;
      const m = /^[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} (\d+) (\d+) (\d+) (\d+)$/.exec(last);
      assert.ok(m, `vtund's format: ${last}`);
      assert.ok(Number(m[1]) >= 5 * 1028 && Number(m[2]) >= 5 * 1028, `byte counters count the pings: ${last}`);
      server.signal("SIGUSR1");
      const reset = await eventually(async () => {
        const l = lines().at(-1)!;
        const n = /(\d+) (\d+) (\d+) (\d+)$/.exec(l);
        return n !== null && Number(n[1]) < 5 * 1028;
      }, 5000);
      assert.ok(reset, `counters reset after SIGUSR1: ${lines().slice(-3).join(" | ")}`);
      assert.ok(server.running);
    });
  });
});

describe("inetd mode", () => {
  it("vtunts -i serves the connection on stdin (socat as inetd) for a vtund client", async () => {
    requireE2E({ vtund: true });
    await withNetns({ ipv6: false }, async (pair) => {
      const conf = pair.file("s.toml", `[hosts.${SESSION}]
passwd = "${PASSWD}"
up = ["ip addr add 10.202.0.1/32 peer 10.202.0.2 dev %%", "ip link set %% up"]
`);
      const inetd = pair.start(pair.server, "socat inetd", ["socat", "TCP-LISTEN:5000,reuseaddr,fork", `EXEC:${VTUNTS} -i -n -f ${conf},nofork`]);
      assert.ok(await eventually(async () => (await pair.server.exec(["ss", "-Htln", "sport = :5000"])).stdout.includes("LISTEN"), 5000));
      startClient(pair, "vtund", { proto: "tcp" });
      assert.ok(await waitTunnelUp(pair), `tunnel up through inetd mode\n${inetd.output}`);
      assert.equal((await pair.client.ping(TUN_SERVER, 3, 1000)).received, 3);
    });
  });
});

describe("speed", () => {
  it("speed 512:256 on a vtunts server: each direction is held near its rate", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      await startServer(pair, "vtunts", { proto: "tcp", speed: "512:256" });
      startClient(pair, "vtunts", { proto: "tcp" });
      assert.ok(await waitTunnelUp(pair));
      // The shaper holds packets back by not reading the device, so they wait in
      // the TUN queue: 500 packets by default, 20 s at 256 kbit/s. Behind such a
      // queue iperf3's TCP sees RTTs of seconds and spurious timeouts, and its
      // goodput measures those more than the shaper (it fell to half the rate on
      // a slow CI host). A short queue makes the shaped link an ordinary
      // bottleneck, where TCP fills the rate the shaper lets through.
      for (const ns of [pair.client, pair.server]) {
        const tun = (await ns.exec(["ip", "-o", "link", "show", "type", "tun"])).stdout.match(/^\d+: ([^:@]+)/m)?.[1];
        assert.ok(tun, "the session's tun device exists");
        assert.equal((await ns.exec(["ip", "link", "set", tun, "txqueuelen", "10"])).code, 0);
      }
      // One one-off iperf3 server per direction, on ports of their own: the first one's
      // goodbye crosses the shaped link and may take seconds, and need not be waited for.
      const iperfServer = async (port: number) => {
        pair.start(pair.server, `iperf3 -s -p ${port}`, ["iperf3", "-s", "-B", TUN_SERVER, "-p", String(port), "-1"]);
        const listening = async () => (await pair.server.exec(["ss", "-Htln", `sport = :${port}`])).stdout.includes("LISTEN");
        assert.ok(await eventually(listening, 5000), `iperf3 server listening on ${port}`);
      };
      await iperfServer(5201);
      // Client → server is shaped by the client at 256 kbit/s (the server's second number).
      const up = await pair.client.exec(["iperf3", "-c", TUN_SERVER, "-p", "5201", "-t", "4", "-J"], { timeoutMs: 30_000 });
      const upBps = JSON.parse(up.stdout).end.sum_received.bits_per_second as number;
      const upRetransmits = JSON.parse(up.stdout).end.sum_sent.retransmits as number;
      assert.ok(upBps > 150_000 && upBps < 400_000, `client → server ${Math.round(upBps / 1000)} kbit/s, ${upRetransmits} retransmits (want ≈ 256·1.024 + overhead)`);
      await iperfServer(5202);
      const down = await pair.client.exec(["iperf3", "-c", TUN_SERVER, "-p", "5202", "-t", "4", "-R", "-J"], { timeoutMs: 30_000 });
      const downBps = JSON.parse(down.stdout).end.sum_received.bits_per_second as number;
      assert.ok(downBps > 350_000 && downBps < 750_000, `server → client ${Math.round(downBps / 1000)} kbit/s (want ≈ 512·1.024)`);
    });
  });
});

describe("nat_hack and srcaddr", () => {
  it("nat_hack server: the server learns the client's UDP address from its first datagram (vtund and vtunts clients)", async () => {
    requireE2E({ vtund: true });
    for (const clientImpl of ["vtunts", "vtund"] as Impl[]) {
      await withNetns({ ipv6: false }, async (pair) => {
        const conf = pair.file("s.toml", `[hosts.${SESSION}]
passwd = "${PASSWD}"
proto = "udp"
nat_hack = "server"
up = ["ip addr add 10.202.0.1/32 peer 10.202.0.2 dev %%", "ip link set %% up"]
`);
        const server = pair.start(pair.server, "server", [VTUNTS, "-s", "-n", "-f", conf, "--log-level", "debug"]);
        await server.waitFor(/waiting for connections/);
        startClient(pair, clientImpl, { proto: "udp" });
        assert.ok(await waitTunnelUp(pair), `udp tunnel up with nat_hack (${clientImpl} client)`);
        await server.waitFor(/nat_hack/);
        assert.equal((await pair.client.ping(TUN_SERVER, 3, 1000)).received, 3);
      });
    }
  });

  it("srcaddr: the client connects from the configured address", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      await pair.client.exec(["ip", "addr", "add", "10.201.0.7/24", "dev", "veth0"]);
      const server = await startServer(pair, "vtunts", { proto: "udp" });
      const conf = pair.file("c.toml", `[hosts.${SESSION}]
passwd = "${PASSWD}"
srcaddr = { addr = "10.201.0.7" }
up = ["ip addr add 10.202.0.2/32 peer 10.202.0.1 dev %%", "ip link set %% up"]
`);
      pair.start(pair.client, "client", [VTUNTS, "-n", "-f", conf, SESSION, SERVER_IP]);
      assert.ok(await waitTunnelUp(pair));
      await server.waitFor(/Session e2e\[10\.201\.0\.7:\d+\] opened/);
    });
  });
});

describe("classic vtund.conf", () => {
  const vtundConf = `options {
  port 5000;
  timeout 10;
  ip /usr/sbin/ip;
}
default {
  compress no;
  keepalive yes;
}
${SESSION} {
  passwd ${PASSWD};
  type tun;
  proto udp;
  encrypt aes128cbc;
  compress lzo:1;
  up {
    ip "addr add 10.202.0.1/32 peer 10.202.0.2 dev %d";
    ip "link set %d up";
  };
}
`;
  it("vtunts -s -f vtund.conf serves a vtund client; `vtunts convert` gives a TOML that does the same", async () => {
    requireE2E({ vtund: true });
    for (const form of ["vtund.conf", "converted toml"]) {
      await withNetns({ ipv6: false }, async (pair) => {
        let conf = pair.file("vtund.conf", vtundConf);
        if (form === "converted toml") {
          const toml = execFileSync(VTUNTS, ["convert", conf], { encoding: "utf8" });
          assert.match(toml, /encrypt = "aes128cbc"/);
          conf = pair.file("converted.toml", toml);
        }
        const server = pair.start(pair.server, "server", [VTUNTS, "-s", "-n", "-f", conf]);
        await server.waitFor(/waiting for connections/);
        pair.start(pair.client, "vtund client", ["vtund", "-n", "-f", pair.file("c.conf", vtundConf.replace("10.202.0.1/32 peer 10.202.0.2", "10.202.0.2/32 peer 10.202.0.1")), SESSION, SERVER_IP], vtundEnv(pair));
        assert.ok(await waitTunnelUp(pair), `tunnel up (${form})`);
        await server.waitFor(/lzo:1, aes128cbc/);
        assert.equal((await pair.client.ping(TUN_SERVER, 5, 1200)).received, 5);
      });
    }
  });
});

describe("cipher resync under loss", () => {
  // CBC recovers from each loss by itself; OFB needs vtund's rsyn/ivec resync, which costs a few
  // packets per loss event (so it only has to come back once the loss stops).
  for (const [cipher, minimum] of [["aes128cbc", 40], ["blowfish128cbc", 40], ["aes128ofb", 0]] as const) {
  it(`udp ${cipher} (vtunts ↔ vtunts) with 20% loss each way keeps working, and is clean once loss stops`, async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const spec = { proto: "udp" as const, encrypt: cipher };
      const server = await startServer(pair, "vtunts", spec);
      startClient(pair, "vtunts", spec);
      assert.ok(await waitTunnelUp(pair));
      // nftables instead of netem (not every kernel has sch_netem): drop 1 in 5 tunnel datagrams each way.
      const lossy = async (on: boolean) => {
        for (const [host, match] of [[pair.client, "udp dport 5000"], [pair.server, "udp sport 5000"]] as const) {
          if (on) {
            await host.exec(["nft", "add", "table", "inet", "loss"]);
            await host.exec(["nft", "add", "chain", "inet", "loss", "out", "{ type filter hook output priority 0; }"]);
            const r = await host.exec(["nft", "add", "rule", "inet", "loss", "out", ...match.split(" "), "numgen", "random", "mod", "5", "==", "0", "drop"]);
            assert.equal(r.code, 0, r.stderr);
          } else {
            await host.exec(["nft", "delete", "table", "inet", "loss"]);
          }
        }
      };
      await lossy(true);
      const r = await pair.client.exec(["ping", "-c", "100", "-i", "0.02", "-W", "1", "-s", "200", "-p", "56544e5f54455354", TUN_SERVER], { timeoutMs: 30_000 });
      const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
      // 20% loss each way leaves ~64%; without resync a CBC stream would stay broken after the first loss.
      assert.ok(received >= minimum, `${received}/100 replies under loss:\n${r.stdout}`);
      await lossy(false);
      // A resync still under way when the loss stops completes within vtund's 2 s gibberish window.
      assert.ok(await waitTunnelUp(pair, 10_000), "traffic resumes after the loss stops");
      assert.equal((await pair.client.ping(TUN_SERVER, 10, 1000)).received, 10, "clean after the loss stops");
      assert.ok(server.running);
    });
  });
  }
});
