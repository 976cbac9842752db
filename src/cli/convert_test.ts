/**
 * `vtunts convert`: the TOML it prints reads back (parseTomlConfig) to the
 * same options and sessions as the vtund.conf it came from, for every
 * fixture, every capture vector's configuration and a file using every
 * feature; runConvert's output, warnings and exit codes; the command line.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { parseVtundConf } from "../config/vtund_conf.ts";
import { parseTomlConfig } from "../config/toml.ts";
import { configToToml, tomlString } from "../config/to_toml.ts";
import type { Config } from "../config/config.ts";
import { FIXTURES, fixtureNames, fixtureText, vectorConfs } from "../../test/fixtures/vtund-conf/fixtures.ts";
import { runConvert } from "./convert.ts";
import { HELP, parseCommandLine, UsageError } from "./args.ts";

/** Converts `config` to TOML, reads that back and checks it has the same options and sessions. */
function roundTrip(config: Config, what: string): string {
  const toml = configToToml(config);
  const back = parseTomlConfig(toml, `${what}.toml`);
  assert.deepEqual(back.options, config.options, `${what}: options`);
  assert.deepEqual(back.sessions, config.sessions, `${what}: sessions`);
  assert.deepEqual([...back.sessions.keys()], [...config.sessions.keys()], `${what}: order`);
  return toml;
}

/** A vtund.conf using every keyword and value form. */
const EVERYTHING = `
options {
  port 5050; timeout 20; type inetd; syslog local2; ipv6;
  bindaddr { addr "::1"; };
  ppp /opt/pppd; ifconfig /opt/ifconfig; route /opt/route; firewall /opt/fw; ip /opt/ip;
}
default {
  type tun; proto udp; keepalive 12:5; stat yes; multi killold;
  srcaddr { iface eth9; port 4000; };
  up { ip "link set %d up"; };
}
alpha {
  passwd "pass word";
  compress lzo:7; encrypt oldblowfish128ecb; speed 0:64; nat_hack server; persist keep; device tun9;
  down {
    program /bin/echo "down %d" wait;
    program "echo 'shell' >/dev/null";
    program /bin/true;
    program /bin/sleep "1" 2;
    ppp "noauth";
    ifconfig "%d down"; route "del default"; firewall "-F"; ip "link set %d down";
  };
}
options { ip /other/ip; ppp /other/pppd; }
beta {
  passwd b;
  type ether; keepalive no; compress lzo; encrypt aes256ofb; speed 128; multi no; stat no;
  srcaddr { addr 192.0.2.44; };
  up { ip "after the path changed"; ppp "x"; };
}
gamma { passwd g; type pipe; srcaddr { addr 2001:db8::5; }; keepalive yes; timeout 99; }
`;

describe("convert: round trip vtund.conf → TOML → Config", () => {
  it("every fixture", () => {
    for (const name of fixtureNames()) roundTrip(parseVtundConf(fixtureText(name), name), name);
  });

  it("every capture vector's server and client configuration", () => {
    const confs = vectorConfs();
    assert.ok(confs.length > 0);
    for (const { where, text } of confs) roundTrip(parseVtundConf(text, where), where);
  });

  it("a file using every keyword and form", () => {
    const config = parseVtundConf(EVERYTHING, "everything.conf");
    assert.deepEqual([...config.sessions.keys()], ["alpha", "beta", "gamma"]);
    const toml = roundTrip(config, "everything");
    // spot checks of what the TOML says
    assert.match(toml, /^bindaddr = "::1"$/m);
    assert.match(toml, /^family = "ipv6"$/m);
    assert.match(toml, /^type = "inetd"$/m);
    assert.match(toml, /^encrypt = "oldblowfish128ecb"$/m);
    assert.match(toml, /^compress = "zlib:2"$/m, "compress lzo; is zlib level 2");
    assert.match(toml, /^speed = "0:64"$/m);
    assert.match(toml, /^srcaddr = \{ iface = "eth9", port = 4000 \}$/m);
    assert.match(toml, /^ {2}\{ program = "\/bin\/sleep", args = "1", wait = false, delay = 10 \},$/m);
    assert.match(toml, /^ {2}\{ args = "echo 'shell' >\/dev\/null", wait = false \},$/m);
    assert.match(toml, /^ {2}\{ program = "\/bin\/true", wait = false \},$/m);
    // `ip "…"` before `options { ip /other/ip; }` ran /opt/ip: spelled out as a program
    assert.match(toml, /^ {2}\{ program = "\/opt\/ip", args = "link set %d up", wait = true \},$/m);
    assert.match(toml, /^ {2}\{ ip = "after the path changed" \},$/m);
    assert.match(toml, /^ {2}\{ program = "\/opt\/pppd", args = "noauth", wait = false, delay = 10 \},$/m);
    assert.match(toml, /^ {2}\{ ppp = "x" \},$/m);
    assert.match(toml, /^# warning: everything\.conf:\d+: compress: bare lzo means zlib level 2/m);
  });

  it("bindaddr { iface } becomes bindiface; quotes, backslashes and control characters are escaped", () => {
    const config = parseVtundConf(`options { bindaddr { iface lo; }; }\ns { passwd a\\b; up { program "say \\ 'hi' \x7f \x01 \t"; }; }`, "q.conf");
    const toml = roundTrip(config, "quotes");
    assert.match(toml, /^bindiface = "lo"$/m);
    assert.doesNotMatch(toml, /^bindaddr/m);
    assert.equal(config.sessions.get("s")?.passwd, "a\\b");
    assert.equal(config.sessions.get("s")?.up[0]?.args, "say \\ 'hi' \x7f \x01 \t");
  });

  it("tomlString makes valid TOML for any text", () => {
    for (const text of ['plain', 'q"uote', "back\\slash", "tab\tnl\nnul\0 del\x7f", "ünïcödé ✓", "'single'"]) {
      assert.equal((parse(`k = ${tomlString(text)}`) as { k: string }).k, text);
    }
  });

  it("a TOML file converts to itself (normalized, all keys spelled out)", () => {
    const config = parseTomlConfig(`[default]\nkeepalive = true\n[hosts.x]\npasswd = "p"\nup = ["echo"]\n`, "in.toml");
    const toml = roundTrip(config, "toml");
    assert.match(toml, /^keepalive = "30:4"$/m);
    assert.match(toml, /^type = "tun"$/m);
  });

  it("tcp_congestion (TOML only) is kept; the system default writes nothing", () => {
    const config = parseTomlConfig(`[hosts.x]\npasswd = "p"\ntcp_congestion = "reno"\n[hosts.y]\npasswd = "p"\n`, "in.toml");
    const toml = roundTrip(config, "toml");
    assert.equal(toml.match(/^tcp_congestion = "reno"$/gm)?.length, 1);
    assert.doesNotMatch(toml, /system/);
  });
});

describe("runConvert", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vtunts-convert-test-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function run(path: string): { code: number; out: string; err: string } {
    let out = "";
    let err = "";
    const code = runConvert(path, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it("prints TOML for a vtund.conf, warnings on stderr, exit 0", () => {
    const path = join(FIXTURES, "vtund-server.conf");
    const { code, out, err } = run(path);
    assert.equal(code, 0);
    assert.match(out, /^\[options\]$/m);
    assert.match(out, /^\[hosts\.cobra\]$/m);
    assert.equal(err, `vtunts: warning: ${path}:42: cobra: defined again; the first definition (line 25) is used, as in vtund\n`);
    assert.deepEqual(parseTomlConfig(out, "o.toml").sessions, parseVtundConf(fixtureText("vtund-server.conf"), "x").sessions);
  });

  it("the gzipped example converts too", () => {
    const { code, out } = run(join(FIXTURES, "vtund.conf.gz"));
    assert.equal(code, 0);
    assert.equal(parseTomlConfig(out, "o.toml").sessions.size, 5);
  });

  it("a bad file: exit 1, the one-line error on stderr, nothing on stdout", () => {
    const path = join(dir, "bad.conf");
    writeFileSync(path, `cobra {\n  passwd x;\n  proto sctp;\n}\n`);
    const { code, out, err } = run(path);
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.equal(err, `vtunts: ${path}:3: proto: expected tcp or udp, got "sctp"\n`);
  });

  it("a missing file: exit 1", () => {
    const { code, err } = run(join(dir, "missing.conf"));
    assert.equal(code, 1);
    assert.match(err, /^vtunts: .*missing\.conf: cannot read the configuration file: ENOENT\n$/);
  });
});

describe("the convert command line", () => {
  it("vtunts convert FILE", () => {
    assert.deepEqual(parseCommandLine(["convert", "/etc/vtund.conf"]), { kind: "convert", path: "/etc/vtund.conf" });
  });

  it("no FILE, two FILEs or a flag are usage errors", () => {
    for (const argv of [["convert"], ["convert", "a", "b"], ["convert", "-s"]]) {
      assert.throws(() => parseCommandLine(argv), (e: unknown) => e instanceof UsageError && /vtunts convert FILE/.test(e.message));
    }
  });

  it("--help mentions it", () => {
    assert.match(HELP, /vtunts convert FILE/);
  });
});
