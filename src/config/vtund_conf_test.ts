/**
 * The vtund.conf reader: Debian's example files and the configurations of the
 * capture vectors parse to the right sessions and options; the lexical rules
 * (comments, `#` inside values, quoted strings, paths); keyword
 * abbreviations; inheritance from `default`; the compress quirks; every
 * keyword's values; and malformed files refused at the exact line.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "./common.ts";
import { loadVtundConf, parseVtundConf, resolveKeyword } from "./vtund_conf.ts";
import { loadConfig } from "./load.ts";
import { CIPHERS } from "./ciphers.ts";
import { DEFAULT_OPTIONS, type Config, type SessionConfig } from "./config.ts";
import { FIXTURES, fixtureNames, fixtureText, vectorConfs } from "../../test/fixtures/vtund-conf/fixtures.ts";

const SOURCE = "vt.conf";

/** Every default of a vtund.conf session (type tty, as vtund). */
function defaults(name: string, passwd: string): SessionConfig {
  return {
    name,
    passwd,
    type: "tty",
    proto: "tcp",
    device: null,
    persist: "no",
    keepalive: null,
    timeout: 30,
    up: [],
    down: [],
    encrypt: null,
    compress: null,
    speed: null,
    stat: false,
    multi: "allow",
    srcaddr: null,
    natHack: null,
    tcpCongestion: null,
  };
}

const cmd = (program: string | null, args: string, wait = true, delayAfter = 0) => ({ program, args, wait, delayAfter });

function session(config: Config, name: string): SessionConfig {
  const s = config.sessions.get(name);
  assert.ok(s, `session ${name} missing`);
  return s;
}

const parse = (text: string) => parseVtundConf(text, SOURCE);
/** Session "s" of `body` (its password is "pw"). */
const s = (body: string) => session(parse(`s {\n  passwd pw;\n${body}\n}\n`), "s");
const opts = (body: string) => parse(`options {\n${body}\n}\n`).options;

function errorOf(text: string): string {
  try {
    parse(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("expected a ConfigError, but the file was accepted");
}

/** Asserts that `text` fails at `line`, naming `where` (or nothing), with `problem` in the one-line message. */
function assertFails(text: string, line: number, where: string | null, problem: RegExp): void {
  const message = errorOf(text);
  const prefix = `${SOURCE}:${line}: ${where === null ? "" : `${where}: `}`;
  assert.ok(message.startsWith(prefix), `expected "${prefix}…", got: ${message}`);
  assert.match(message, problem);
  assert.doesNotMatch(message, /\n/, "one line");
}

describe("vtund.conf: Debian's example files", () => {
  const server = loadVtundConf(join(FIXTURES, "vtund-server.conf"));
  const client = loadVtundConf(join(FIXTURES, "vtund-client.conf"));

  it("every fixture parses", () => {
    assert.deepEqual(fixtureNames(), [
      "etc-vtund.conf", "vtund-client.conf", "vtund-ipv6-client.conf", "vtund-ipv6-server.conf", "vtund-server.conf", "vtund.conf.gz",
    ]);
    for (const name of fixtureNames()) assert.ok(parseVtundConf(fixtureText(name), name).options.port === 5000, name);
  });

  it("/etc/vtund.conf is all comments: default options, no sessions, no warnings", () => {
    const config = loadVtundConf(join(FIXTURES, "etc-vtund.conf"));
    assert.deepEqual(config.options, DEFAULT_OPTIONS);
    assert.equal(config.sessions.size, 0);
    assert.equal(config.warnings, undefined);
  });

  it("server: options with bindaddr { iface lo; }", () => {
    assert.deepEqual(server.options, { ...DEFAULT_OPTIONS, bindiface: "lo" });
  });

  it("server: the sessions; of the two cobras the first is used (warning)", () => {
    assert.deepEqual([...server.sessions.keys()], ["cobra", "lion", "viper", "backup", "sz"]);
    assert.deepEqual(server.warnings, [`${join(FIXTURES, "vtund-server.conf")}:42: cobra: defined again; the first definition (line 25) is used, as in vtund`]);
  });

  it("server: cobra (tun, udp, lzo:9, encrypt yes, keepalive yes, ifconfig)", () => {
    assert.deepEqual(session(server, "cobra"), {
      ...defaults("cobra", "Ma&^TU"),
      type: "tun",
      proto: "udp",
      compress: { method: "lzo", level: 9 },
      encrypt: 1,
      keepalive: { intervalSec: 30, maxFail: 4 },
      up: [cmd("/sbin/ifconfig", "%% 10.3.0.1 pointopoint 10.3.0.2 mtu 1450")],
    });
  });

  it("server: lion (ether, tap0, stat, route and firewall commands, down list)", () => {
    assert.deepEqual(session(server, "lion"), {
      ...defaults("lion", "Ma&^TU"),
      type: "ether",
      device: "tap0",
      proto: "udp",
      compress: { method: "lzo", level: 1 },
      encrypt: 1,
      stat: true,
      keepalive: { intervalSec: 30, maxFail: 4 },
      up: [
        cmd("/sbin/ifconfig", "%% 10.1.0.1 netmask 255.255.255.0"),
        cmd("/sbin/route", "add -net 10.2.0.0 netmask 255.255.255.0 gw 10.1.0.2"),
        cmd("/sbin/ipchains", "-A forward -s 10.2.0.0/24 -d 0.0.0.0/0 -j MASQ"),
      ],
      down: [cmd("/sbin/ifconfig", "%% down"), cmd("/sbin/ipchains", "-D forward -s 10.2.0.0/24 -d 0.0.0.0/0 -j MASQ")],
    });
  });

  it("server: viper (tty by default, compress yes = zlib:1, ppp: no wait, 10 s)", () => {
    assert.deepEqual(session(server, "viper"), {
      ...defaults("viper", "TTT$bio"),
      compress: { method: "zlib", level: 1 },
      encrypt: 1,
      up: [cmd("/usr/sbin/pppd", "10.0.0.1:10.0.0.2 proxyarp", false, 10)],
    });
  });

  it("server: backup (pipe, speed 256:128, program PATH \"ARGS\" without wait) and sz (speed 64)", () => {
    assert.deepEqual(session(server, "backup"), {
      ...defaults("backup", "OnlyME"),
      type: "pipe",
      speed: { toClient: 256, toServer: 128 },
      encrypt: 1,
      up: [cmd("/bin/sh", "-c 'tar cf - /etc/*'", false)],
    });
    assert.deepEqual(session(server, "sz").speed, { toClient: 64, toServer: 64 });
    assert.equal(session(server, "sz").type, "tty");
  });

  it("client: timeout 60, device and persist, the first cobra", () => {
    assert.equal(client.options.timeout, 60);
    assert.deepEqual(session(client, "cobra"), {
      ...defaults("cobra", "Ma&^TU"),
      device: "tun1",
      persist: "yes",
      up: [cmd("/sbin/ifconfig", "%% 10.3.0.2 pointopoint 10.3.0.1 mtu 1450")],
    });
    assert.deepEqual([...client.sessions.keys()], ["cobra", "lion", "viper", "backup", "sz"]);
    assert.deepEqual(session(client, "backup").up, [cmd("/bin/sh", "-c 'cd /tmp; tar xf -", false)]);
  });

  it("ipv6 examples: syslog user, firewall /sbin/iptables, default section inherited", () => {
    for (const [name, peer] of [["vtund-ipv6-server.conf", "10.3.0.2"], ["vtund-ipv6-client.conf", "10.3.0.1"]] as const) {
      const config = loadVtundConf(join(FIXTURES, name));
      assert.deepEqual(config.options, {
        ...DEFAULT_OPTIONS,
        syslog: "user",
        programs: { ...DEFAULT_OPTIONS.programs, firewall: "/sbin/iptables" },
      });
      assert.deepEqual([...config.sessions.keys()], ["big-buck-bunny", "big-buck-bunny-ipv6"]);
      const bbb = session(config, "big-buck-bunny");
      assert.deepEqual({ ...bbb, up: [] }, {
        ...defaults("big-buck-bunny", "blender"),
        type: "tun",
        proto: "udp",
        compress: { method: "zlib", level: 1 },
        encrypt: 1,
        keepalive: { intervalSec: 30, maxFail: 4 },
        stat: true,
        down: [cmd("/sbin/ip", "link set %d down")],
      });
      assert.equal(bbb.up[1]?.args.includes(`peer ${peer}`), true, name);
    }
  });

  it("the gzipped combined example: loadVtundConf gunzips; server and client parts merge as in vtund", () => {
    const config = loadVtundConf(join(FIXTURES, "vtund.conf.gz"));
    assert.deepEqual([...config.sessions.keys()], ["cobra", "lion", "viper", "backup", "sz"]);
    // the client part's `timeout 60` applies (the server part set none); its `port 5000` repeats the first
    assert.deepEqual(config.options, { ...DEFAULT_OPTIONS, bindiface: "lo", timeout: 60 });
    assert.deepEqual(session(config, "cobra"), session(server, "cobra"), "the server part's cobra comes first");
    assert.equal(config.warnings?.length, 7);
    assert.ok(config.warnings?.every((w) => /defined again; the first definition \(line \d+\) is used/.test(w)));
    assert.deepEqual(parseVtundConf(fixtureText("vtund.conf.gz"), "x").sessions, config.sessions);
  });

  it("loadConfig reads a non-.toml file as vtund.conf", () => {
    assert.deepEqual(loadConfig(join(FIXTURES, "vtund-server.conf")).sessions, server.sessions);
  });
});

describe("vtund.conf: the capture vectors' configurations", () => {
  const confs = vectorConfs();

  it("there are server and client configurations to read", () => {
    assert.ok(confs.length >= 20, `only ${confs.length}`);
  });

  it("each parses to session vtvec (or nosuchhost) with ip /usr/sbin/ip commands", () => {
    for (const { where, text } of confs) {
      const config = parseVtundConf(text, where);
      assert.equal(config.warnings, undefined, where);
      assert.equal(config.options.programs.ip, "/usr/sbin/ip", where);
      assert.equal(config.sessions.size, 1, where);
      const [sess] = config.sessions.values();
      assert.ok(sess && (sess.name === "vtvec" || sess.name === "nosuchhost"), where);
      assert.equal(sess.up.length, 2, where);
      assert.ok(sess.up.every((c) => c.program === "/usr/sbin/ip" && c.wait && c.delayAfter === 0), where);
    }
  });

  it("the server settings match each case's name", () => {
    const expect: Record<string, Partial<SessionConfig>> = {
      "tcp-aes128cbc.json": { proto: "tcp", encrypt: 10 },
      "tcp-aes128ecb.json": { proto: "tcp", encrypt: 9 },
      "tcp-aes256ofb.json": { proto: "tcp", encrypt: 16 },
      "tcp-bf128cbc.json": { proto: "tcp", encrypt: 2 },
      "tcp-encrypt-yes.json": { proto: "tcp", encrypt: 1 },
      "tcp-lzo9.json": { compress: { method: "lzo", level: 9 }, encrypt: null },
      "tcp-zlib9.json": { compress: { method: "zlib", level: 9 }, encrypt: null },
      "udp-aes128cbc.json": { proto: "udp", encrypt: 10 },
      "udp-bf128ecb.json": { proto: "udp", encrypt: 1 },
      "udp-plain.json": { proto: "udp", encrypt: null, compress: null, keepalive: null },
    };
    for (const [file, want] of Object.entries(expect)) {
      const conf = confs.find((c) => c.where === `${file} server_conf`);
      assert.ok(conf, file);
      const sess = session(parseVtundConf(conf.text, file), "vtvec");
      assert.equal(sess.type, "tun", file);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(sess[k as keyof SessionConfig], v, `${file} ${k}`);
    }
  });

  it("the keepalive client has keepalive 1:3; clients keep vtund's tty type", () => {
    const conf = confs.find((c) => c.where === "tcp-keepalive.json client_conf");
    assert.ok(conf);
    const sess = session(parseVtundConf(conf.text, "k"), "vtvec");
    assert.deepEqual(sess.keepalive, { intervalSec: 1, maxFail: 3 });
    assert.equal(sess.type, "tty");
    assert.equal(sess.persist, "no");
  });
});

describe("vtund.conf: lexical rules", () => {
  it("# comments at the top level and between statements, also at the end without a newline", () => {
    const config = parse(`# top\noptions { # after the brace\n  port 6000; # after a statement\n# alone\n}\n# last`);
    assert.equal(config.options.port, 6000);
  });

  it("# inside a value is part of the word (passwd a#b;)", () => {
    assert.equal(s(`passwd Ma#1&^TU;`).passwd, "Ma#1&^TU");
  });

  it("WORD characters in passwords: - _ + = ! $ # % & * ^ @ \\ ~ .", () => {
    assert.equal(s(`passwd a-_+=!$#%&*^@\\~.z;`).passwd, "a-_+=!$#%&*^@\\~.z");
  });

  it("quoted strings end at the next quote: two commands on one line (vtund would merge them)", () => {
    assert.deepEqual(s(`up { ip "link set %d up"; ip "addr add 10.0.0.1/24 dev %d"; };`).up, [
      cmd("/sbin/ip", "link set %d up"),
      cmd("/sbin/ip", "addr add 10.0.0.1/24 dev %d"),
    ]);
  });

  it("strings keep ; # { } and single quotes; no escapes", () => {
    assert.deepEqual(s(`up { program "echo 'a; b' # {x} \\n"; };`).up, [cmd(null, "echo 'a; b' # {x} \\n", false)]);
  });

  it("a string of 252 bytes is the longest", () => {
    assert.equal(s(`up { ip "${"x".repeat(252)}"; };`).up[0]?.args.length, 252);
    assertFails(`s {\n  up { ip "${"x".repeat(253)}"; };\n}\n`, 2, "ip", /longer than 252 bytes/);
  });

  it("CRLF line ends, tabs, several statements on a line, a stray ';'", () => {
    const config = parse(`options {\r\n\tport 6000; timeout 9;;\r\n}\r\n;\r\ns {\r\n\tpasswd pw;\r\n}\r\n`);
    assert.equal(config.options.port, 6000);
    assert.equal(config.options.timeout, 9);
    assert.equal(session(config, "s").passwd, "pw");
  });

  it("a statement may continue on the next line when it is complete", () => {
    assert.deepEqual(s(`up {\n program /bin/echo\n   "hi" wait;\n };`).up, [cmd("/bin/echo", "hi", true)]);
    assert.equal(s(`device\n tun7\n;`).device, "tun7");
  });

  it("session names: letters, digits, _ and -; names of Object's properties are just names", () => {
    assert.deepEqual([...parse(`big-buck_bunny2 { passwd x; }`).sessions.keys()], ["big-buck_bunny2"]);
    assert.deepEqual([...parse(`constructor { passwd x; }\ntoString { passwd y; }`).sessions.keys()], ["constructor", "toString"]);
    assert.equal(resolveKeyword("constructor"), null);
  });

  it("an empty file, and sections without statements", () => {
    assert.equal(parse("").sessions.size, 0);
    assert.equal(parse("options { }\ndefault { }\n").sessions.size, 0);
  });
});

describe("vtund.conf: keyword abbreviations (at least 4 letters)", () => {
  it("resolveKeyword: exact names and aliases, unique prefixes of 4+ letters, nothing shorter", () => {
    assert.equal(resolveKeyword("compress"), "compress");
    assert.equal(resolveKeyword("comp"), "compress");
    assert.equal(resolveKeyword("compre"), "compress");
    assert.equal(resolveKeyword("com"), null);
    assert.equal(resolveKeyword("password"), "passwd");
    assert.equal(resolveKeyword("pass"), "passwd", "passwd and password mean the same");
    assert.equal(resolveKeyword("ifcfg"), "ifconfig");
    assert.equal(resolveKeyword("delay_udp"), "nat_hack");
    assert.equal(resolveKeyword("keep"), "keepalive");
    assert.equal(resolveKeyword("prot"), "proto");
    assert.equal(resolveKeyword("prog"), "program");
    assert.equal(resolveKeyword("compressx"), null);
    assert.equal(resolveKeyword("ip"), "ip");
    assert.equal(resolveKeyword("up"), "up");
  });

  it("in sessions, options and blocks", () => {
    const config = parse(
      `opti { timeout 5; }\n` + // a session name: section names are not abbreviated
        `options { time 9; bind { ifac eth0; }; fire /sbin/iptables; sysl local1; }\n` +
        `s { pass pw; comp lzo:3; encr aes256cbc; keep 5:2; pers keep; devi tun3; mult killold; stat yes;` +
        ` srca { addr 192.0.2.1; }; nat_ client; ssla yes; spee 8:16; prot udp; time 7;` +
        ` up { prog /bin/x "y" wait; ifco "a"; rout "b"; }; down { fire "c"; }; }\n`,
    );
    assert.deepEqual(config.options, {
      ...DEFAULT_OPTIONS,
      timeout: 9,
      bindiface: "eth0",
      syslog: "local1",
      programs: { ...DEFAULT_OPTIONS.programs, firewall: "/sbin/iptables" },
    });
    assert.deepEqual(session(config, "s"), {
      ...defaults("s", "pw"),
      compress: { method: "lzo", level: 3 },
      encrypt: 14,
      keepalive: { intervalSec: 5, maxFail: 2 },
      persist: "keep",
      device: "tun3",
      multi: "killold",
      stat: true,
      srcaddr: { addr: "192.0.2.1", iface: null, port: null },
      natHack: "client",
      speed: { toClient: 8, toServer: 16 },
      proto: "udp",
      timeout: 7,
      up: [cmd("/bin/x", "y", true), cmd("/sbin/ifconfig", "a"), cmd("/sbin/route", "b")],
      down: [cmd("/sbin/iptables", "c")],
    });
    assert.deepEqual(config.warnings, [`${SOURCE}:1: opti: ignored incomplete session definition (no passwd)`]);
  });

  it("a 3-letter prefix is an unknown keyword", () => {
    assertFails(`s {\n  passwd pw;\n  com lzo:1;\n}\n`, 3, "com", /unknown keyword/);
  });
});

describe("vtund.conf: inheritance from default", () => {
  it("a session copies default as it stands when the session starts", () => {
    const config = parse(
      `a { passwd 1; }\n` +
        `default { proto udp; type tun; compress lzo:5; }\n` +
        `b { passwd 2; }\n` +
        `default { proto tcp; }\n` +
        `c { passwd 3; compress no; }\n`,
    );
    assert.deepEqual(session(config, "a"), defaults("a", "1"));
    assert.deepEqual(session(config, "b"), { ...defaults("b", "2"), proto: "udp", type: "tun", compress: { method: "lzo", level: 5 } });
    assert.deepEqual(session(config, "c"), { ...defaults("c", "3"), type: "tun" });
  });

  it("up/down lists are inherited; a session's own block replaces them (an empty one too)", () => {
    const config = parse(
      `default { up { ip "d-up"; }; down { ip "d-down"; }; }\n` +
        `a { passwd 1; }\nb { passwd 2; up { ip "b-up"; }; }\nc { passwd 3; down { }; }\n`,
    );
    assert.deepEqual(session(config, "a").up, [cmd("/sbin/ip", "d-up")]);
    assert.deepEqual(session(config, "a").down, [cmd("/sbin/ip", "d-down")]);
    assert.deepEqual(session(config, "b").up, [cmd("/sbin/ip", "b-up")]);
    assert.deepEqual(session(config, "b").down, [cmd("/sbin/ip", "d-down")]);
    assert.deepEqual(session(config, "c").down, []);
    assert.notEqual(session(config, "a").up[0], session(config, "c").up[0], "copies, not shared objects");
  });

  it("srcaddr merges with the inherited one (port kept, addr/iface replace each other)", () => {
    const config = parse(`default { srcaddr { addr 192.0.2.1; port 7000; }; }\na { passwd 1; srcaddr { iface eth1; }; }\nb { passwd 2; }\n`);
    assert.deepEqual(session(config, "a").srcaddr, { addr: null, iface: "eth1", port: 7000 });
    assert.deepEqual(session(config, "b").srcaddr, { addr: "192.0.2.1", iface: null, port: 7000 });
  });

  it("passwd is not inherited from default (warning), so such a session is ignored (warning)", () => {
    const config = parse(`default {\n  passwd shared;\n}\na { type tun; }\nb { passwd own; }\n`);
    assert.deepEqual([...config.sessions.keys()], ["b"]);
    assert.deepEqual(config.warnings, [
      `${SOURCE}:2: passwd: a passwd in default is not inherited by sessions (as in vtund)`,
      `${SOURCE}:4: a: ignored incomplete session definition (no passwd)`,
    ]);
  });

  it("keepalive yes keeps the interval:count set earlier (in default or the session)", () => {
    const config = parse(`default { keepalive 10:3; keepalive no; }\na { passwd 1; keepalive yes; }\nb { passwd 2; }\nc { passwd 3; keepalive 0:9; }\n`);
    assert.deepEqual(session(config, "a").keepalive, { intervalSec: 10, maxFail: 3 });
    assert.equal(session(config, "b").keepalive, null);
    assert.equal(session(config, "c").keepalive, null, "an interval of 0 turns keepalive off");
  });

  it("named commands use the program path set before them", () => {
    const config = parse(`options { ip /a/ip; }\ndefault { up { ip "x"; }; }\noptions { ip /b/ip; }\ns { passwd pw; down { ip "y"; }; }\n`);
    assert.deepEqual(session(config, "s").up, [cmd("/a/ip", "x")]);
    assert.deepEqual(session(config, "s").down, [cmd("/b/ip", "y")]);
    assert.equal(config.options.programs.ip, "/b/ip");
  });
});

describe("vtund.conf: compress (with vtund 3.0.x's quirks)", () => {
  const compress = (v: string) => s(`compress ${v};`).compress;

  it("yes = zlib:1, no / 0 = off", () => {
    assert.deepEqual(compress("yes"), { method: "zlib", level: 1 });
    assert.deepEqual(compress("enable"), { method: "zlib", level: 1 });
    assert.equal(compress("no"), null);
    assert.equal(compress("0"), null);
  });

  it("zlib:N and lzo:N; level 0 is used as 1", () => {
    assert.deepEqual(compress("zlib:9"), { method: "zlib", level: 9 });
    assert.deepEqual(compress("lzo:1"), { method: "lzo", level: 1 });
    assert.deepEqual(compress("lzo:0"), { method: "lzo", level: 1 });
  });

  it("bare lzo = zlib level 2 (warning), bare zlib = zlib level 1, bare N = zlib level N", () => {
    const config = parse(`s {\n  passwd pw;\n  compress lzo;\n}\n`);
    assert.deepEqual(session(config, "s").compress, { method: "zlib", level: 2 });
    assert.deepEqual(config.warnings, [`${SOURCE}:3: compress: bare lzo means zlib level 2 in vtund 3.0.x (kept); write lzo:N for LZO`]);
    assert.deepEqual(compress("zlib"), { method: "zlib", level: 1 });
    assert.deepEqual(compress("5"), { method: "zlib", level: 5 });
  });

  it("levels above 9 and other words are errors", () => {
    assertFails(`s {\n  compress zlib:10;\n}\n`, 2, "compress", /zlib:N or lzo:N .*got "zlib:10"/);
    assertFails(`s {\n  compress 12;\n}\n`, 2, "compress", /got "12"/);
    assertFails(`s {\n  compress tun;\n}\n`, 2, "compress", /got "tun"/);
    assertFails(`s {\n  compress bzip2:3;\n}\n`, 2, "compress", /got "bzip2:3"/);
  });
});

describe("vtund.conf: session keywords", () => {
  it("passwd / password; also a quoted string, a number or a special word", () => {
    assert.equal(session(parse(`s { password secret; }`), "s").passwd, "secret");
    assert.equal(session(parse(`s { passwd "two words"; }`), "s").passwd, "two words");
    assert.equal(session(parse(`s { passwd 1234; }`), "s").passwd, "1234");
    assert.equal(session(parse(`s { passwd yes; }`), "s").passwd, "yes");
  });

  it("type, proto, device, timeout", () => {
    for (const t of ["tun", "ether", "tty", "pipe"]) assert.equal(s(`type ${t};`).type, t);
    assert.equal(s(`proto udp;`).proto, "udp");
    assert.equal(s(`device tap0;`).device, "tap0");
    assert.equal(s(`timeout 45;`).timeout, 45);
  });

  it("persist yes / no / keep (and 0 1 2)", () => {
    assert.equal(s(`persist yes;`).persist, "yes");
    assert.equal(s(`persist no;`).persist, "no");
    assert.equal(s(`persist keep;`).persist, "keep");
    assert.equal(s(`persist 2;`).persist, "keep");
    assert.equal(s(`persist 1;`).persist, "yes");
  });

  it("multi yes / allow, no / deny, killold", () => {
    for (const v of ["yes", "allow", "enable", "1"]) assert.equal(s(`multi ${v};`).multi, "allow", v);
    for (const v of ["no", "deny", "disable", "0"]) assert.equal(s(`multi ${v};`).multi, "deny", v);
    assert.equal(s(`multi killold;`).multi, "killold");
  });

  it("encrypt yes / no / every cipher name / numbers", () => {
    assert.equal(s(`encrypt yes;`).encrypt, 1);
    assert.equal(s(`encrypt no;`).encrypt, null);
    assert.equal(s(`encrypt 0;`).encrypt, null);
    for (const [name, n] of CIPHERS) {
      assert.equal(s(`encrypt ${name};`).encrypt, n, name);
      assert.equal(s(`encrypt ${n};`).encrypt, n, String(n));
    }
  });

  it("keepalive yes (30:4) / no / I:C", () => {
    assert.deepEqual(s(`keepalive yes;`).keepalive, { intervalSec: 30, maxFail: 4 });
    assert.equal(s(`keepalive no;`).keepalive, null);
    assert.deepEqual(s(`keepalive 15:2;`).keepalive, { intervalSec: 15, maxFail: 2 });
  });

  it("speed 0 / N / A:B", () => {
    assert.equal(s(`speed 0;`).speed, null);
    assert.deepEqual(s(`speed 64;`).speed, { toClient: 64, toServer: 64 });
    assert.deepEqual(s(`speed 256:128;`).speed, { toClient: 256, toServer: 128 });
    assert.equal(s(`speed 0:0;`).speed, null);
  });

  it("stat, nat_hack / delay_udp, sslauth yes", () => {
    assert.equal(s(`stat yes;`).stat, true);
    assert.equal(s(`stat no;`).stat, false);
    assert.equal(s(`nat_hack client;`).natHack, "client");
    assert.equal(s(`delay_udp server;`).natHack, "server");
    assert.equal(s(`nat_hack no;`).natHack, null);
    assert.equal(s(`sslauth yes;`).passwd, "pw");
  });

  it("srcaddr { addr; port; } / { iface; } / a quoted IPv6 address / port 0 = any", () => {
    assert.deepEqual(s(`srcaddr { addr 192.0.2.9; port 5001; };`).srcaddr, { addr: "192.0.2.9", iface: null, port: 5001 });
    assert.deepEqual(s(`srcaddr { iface "eth0"; }`).srcaddr, { addr: null, iface: "eth0", port: null });
    assert.deepEqual(s(`srcaddr { addr "2001:db8::2"; };`).srcaddr, { addr: "2001:db8::2", iface: null, port: null });
    assert.deepEqual(s(`srcaddr { addr 2001:db8::3; };`).srcaddr, { addr: "2001:db8::3", iface: null, port: null });
    assert.equal(s(`srcaddr { port 0; };`).srcaddr, null);
    assert.equal(s(`srcaddr { };`).srcaddr, null);
  });

  it("up/down: program PATH \"ARGS\" wait, program \"ARGS\" (shell), program PATH, numeric flags, named commands", () => {
    assert.deepEqual(
      s(`up {\n program /bin/a "x" wait;\n program "echo hi";\n program /bin/b;\n program wait "y" /bin/c;\n program /bin/d "z" 2;\n program /bin/e "w" 3;\n` +
        ` ppp "p"; ifconfig "i"; ifcfg "j"; route "r"; firewall "f"; ip "ip";\n};`).up,
      [
        cmd("/bin/a", "x", true),
        cmd(null, "echo hi", false),
        cmd("/bin/b", "", false),
        cmd("/bin/c", "y", true),
        cmd("/bin/d", "z", false, 10),
        cmd("/bin/e", "w", true, 10),
        cmd("/usr/sbin/pppd", "p", false, 10),
        cmd("/sbin/ifconfig", "i"),
        cmd("/sbin/ifconfig", "j"),
        cmd("/sbin/route", "r"),
        cmd("/sbin/ipchains", "f"),
        cmd("/sbin/ip", "ip"),
      ],
    );
  });
});

describe("vtund.conf: options", () => {
  it("port, timeout, type, syslog (name or number), programs, ipv4; / ipv6;", () => {
    assert.deepEqual(opts(`port 6000; timeout 10; type inetd; syslog local7; ppp /p; ifconfig /i; route /r; firewall /f; ip /x; ipv6;`), {
      ...DEFAULT_OPTIONS,
      port: 6000,
      timeout: 10,
      mode: "inetd",
      syslog: "local7",
      family: "ipv6",
      programs: { ppp: "/p", ifconfig: "/i", route: "/r", firewall: "/f", ip: "/x" },
    });
    assert.equal(opts(`syslog 24;`).syslog, "daemon");
    assert.equal(opts(`syslog 128;`).syslog, "local0");
    assert.equal(opts(`ipv6; ipv4;`).family, "ipv4");
    assert.equal(opts(`type stand;`).mode, "stand");
    assert.equal(opts(`ifcfg /sbin/x;`).programs.ifconfig, "/sbin/x");
  });

  it("bindaddr { addr } / { iface }: the last one wins", () => {
    assert.deepEqual([opts(`bindaddr { addr 127.0.0.1; };`).bindaddr, opts(`bindaddr { addr 127.0.0.1; };`).bindiface], ["127.0.0.1", null]);
    const o = opts(`bindaddr { addr ::1; iface lo; };`);
    assert.deepEqual([o.bindaddr, o.bindiface], ["0.0.0.0", "lo"]);
    const o2 = opts(`bindaddr { iface lo; addr "::"; }`);
    assert.deepEqual([o2.bindaddr, o2.bindiface], ["::", null]);
  });

  it("port, timeout and type: the first setting wins, like vtund (a different later one: warning)", () => {
    const config = parse(`options {\n  port 6000;\n  timeout 5;\n}\noptions {\n  port 6000;\n  port 7000;\n  timeout 9;\n  type inetd;\n  type stand;\n}\n`);
    assert.equal(config.options.port, 6000);
    assert.equal(config.options.timeout, 5);
    assert.equal(config.options.mode, "inetd");
    assert.deepEqual(config.warnings, [
      `${SOURCE}:7: port: ignored: vtund keeps the first setting (line 2)`,
      `${SOURCE}:8: timeout: ignored: vtund keeps the first setting (line 3)`,
      `${SOURCE}:10: type: ignored: vtund keeps the first setting (line 9)`,
    ]);
  });
});

describe("vtund.conf: malformed files fail at the exact line", () => {
  it("unterminated section (at its opening line)", () => {
    assertFails(`options { port 5000; }\n\ncobra {\n  passwd x;\n  type tun;\n`, 3, "cobra", /no closing '}'/);
    assertFails(`options {\n  port 5000;\n`, 1, "options", /no closing '}'/);
  });

  it("unterminated up block (at its opening line)", () => {
    assertFails(`cobra {\n  passwd x;\n  up {\n    ip "a";\n`, 3, "up", /no closing '}'/);
  });

  it("a missing '}' shows as the next session name inside the section, with a hint", () => {
    assertFails(`cobra {\n  passwd x;\n\nlion {\n  passwd y;\n}\n`, 4, "lion", /unknown keyword \(is the '}' of session "cobra", opened on line 1, missing\?\)/);
    assertFails(`cobra {\n  passwd x;\noptions {\n}\n`, 3, "options", /section cannot start inside another one \(is the '}'/);
  });

  it("missing ';' in the middle, before '}', before a block, at the end of the file", () => {
    assertFails(`cobra {\n  passwd x\n  type tun;\n}\n`, 2, "passwd", /missing ';'/);
    assertFails(`cobra {\n  passwd x;\n  type tun\n}\n`, 3, "type", /missing ';'/);
    assertFails(`cobra {\n  passwd x;\n  persist yes\n  up {\n    ip "a";\n  };\n}\n`, 3, "persist", /missing ';'/);
    assertFails(`cobra {\n  passwd x;\n  up {\n    ip "a"\n  };\n}\n`, 4, "ip", /missing ';'/);
    assertFails(`options {\n  port 5000`, 2, "port", /missing ';'/);
    assertFails(`options {\n  port 5000 # comment\n  timeout 5;\n}\n`, 2, "port", /missing ';'/);
  });

  it("unknown keyword; a keyword in the wrong section", () => {
    assertFails(`cobra {\n  passwd x;\n  frobnicate 1;\n}\n`, 3, "frobnicate", /^[^(]*unknown keyword$/);
    assertFails(`options {\n  port 5000;\n  passwd x;\n}\n`, 3, "passwd", /not allowed in options \(allowed: port/);
    assertFails(`s {\n  passwd x;\n  port 5000;\n}\n`, 3, "port", /not allowed in a session \(it belongs in options\)/);
    assertFails(`s {\n  passwd x;\n  program "x";\n}\n`, 3, "program", /not allowed in a session \(it belongs in an up or down block\)/);
    assertFails(`s {\n  passwd x;\n  up {\n    device tun0;\n  };\n}\n`, 4, "device", /not allowed in an up or down block/);
    assertFails(`s {\n  srcaddr {\n    passwd x;\n  };\n}\n`, 3, "passwd", /not allowed in srcaddr \(allowed: addr, iface, port\)/);
    assertFails(`options {\n  bindaddr {\n    port 1;\n  };\n}\n`, 3, "port", /not allowed in bindaddr/);
  });

  it("bad values", () => {
    const bad = (stmt: string, where: string, problem: RegExp) => assertFails(`s {\n  passwd pw;\n  ${stmt}\n}\n`, 3, where, problem);
    bad(`proto sctp;`, "proto", /expected tcp or udp, got "sctp"/);
    bad(`type slip;`, "type", /expected tun, ether, tty or pipe, got "slip"/);
    bad(`type 3;`, "type", /got "3"/);
    bad(`persist maybe;`, "persist", /got "maybe"/);
    bad(`persist 3;`, "persist", /got "3"/);
    bad(`multi 3;`, "multi", /got "3"/);
    bad(`encrypt aes512cbc;`, "encrypt", /cipher name .*got "aes512cbc"/);
    bad(`encrypt 17;`, "encrypt", /got "17"/);
    bad(`keepalive often;`, "keepalive", /yes, no or interval:count, got "often"/);
    bad(`keepalive 10:0;`, "keepalive", /count 1..1000, got "10:0"/);
    bad(`speed fast;`, "speed", /got "fast"/);
    bad(`stat maybe;`, "stat", /yes or no, got "maybe"/);
    bad(`nat_hack yes;`, "nat_hack", /client, server or no, got "yes"/);
    bad(`timeout 0;`, "timeout", /1 to 86400, got "0"/);
    bad(`device /dev/net/tun;`, "device", /interface name .*got "\/dev\/net\/tun"/);
    bad(`device abcdefghijklmnop;`, "device", /got "abcdefghijklmnop"/);
    bad(`proto tcp udp;`, "proto", /got "tcp udp"/);
    bad(`proto;`, "proto", /got nothing/);
    bad(`srcaddr { addr gw.example.org; };`, "addr", /IPv4 or IPv6 address .*got "gw.example.org"/);
    bad(`srcaddr { port 70000; };`, "port", /got "70000"/);
    bad(`up { ip link; };`, "ip", /quoted string of arguments, e.g. ip "…", got "link"/);
    bad(`up { program; };`, "program", /\[PATH\] \["ARGS"\] \[wait\] with a PATH or a non-empty "ARGS", got nothing/);
    bad(`up { program /bin/a /bin/b; };`, "program", /got "\/bin\/a \/bin\/b"/);
    bad(`up { program /bin/a 4; };`, "program", /got "\/bin\/a 4"/);
    bad(`type tun {`, "type", /unexpected '\{' \(this keyword takes no block\)/);
    bad(`up ip;`, "up", /expected '\{' after up/);
  });

  it("bad option values", () => {
    const bad = (stmt: string, where: string, problem: RegExp) => assertFails(`options {\n  ${stmt}\n}\n`, 2, where, problem);
    bad(`port 0;`, "port", /port number from 1 to 65535, got "0"/);
    bad(`port 70000;`, "port", /got "70000"/);
    bad(`port x;`, "port", /got "x"/);
    bad(`timeout 0;`, "timeout", /got "0"/);
    bad(`type tun;`, "type", /stand or inetd, got "tun"/);
    bad(`syslog local9;`, "syslog", /syslog facility .*got "local9"/);
    bad(`syslog 25;`, "syslog", /got "25"/);
    bad(`ip ip;`, "ip", /a path like \/sbin\/ip, got "ip"/);
    bad(`ppp "/usr/sbin/pppd";`, "ppp", /a path/);
    bad(`ipv6 yes;`, "ipv6", /expected nothing \(write "ipv6;"\), got "yes"/);
    bad(`bindaddr { addr localhost; };`, "addr", /IPv4 or IPv6 address \(vtunts does not look up host names here\), got "localhost"/);
    bad(`bindaddr { iface "e t h"; };`, "iface", /interface name/);
  });

  it("sslauth no is not supported", () => {
    assertFails(`s {\n  passwd pw;\n  sslauth no;\n}\n`, 3, "sslauth", /no is not supported/);
  });

  it("unterminated string", () => {
    assertFails(`s {\n  passwd pw;\n  up {\n    ip "link set %d up;\n  };\n}\n`, 4, "ip", /unterminated string \(no closing '"' on this line\)/);
    assertFails(`s {\n  passwd "pw;\n}\n`, 2, "passwd", /unterminated string/);
  });

  it("invalid characters", () => {
    assertFails(`s {\n  passwd pw;\n  type tun; <\n}\n`, 3, null, /invalid character '<'/);
    assertFails(`s {\n  passwd pw?;\n}\n`, 2, "passwd", /invalid character '\?'/);
    assertFails(`/etc {\n}\n`, 1, null, /invalid character '\/' \(a path is only allowed as a value\)/);
  });

  it("section-level mistakes: a keyword or bad name as a session name, no '{', stray '}' or string", () => {
    assertFails(`\nport 5000;\n`, 2, "port", /a keyword cannot start a section here/);
    assertFails(`a.b { passwd x; }\n`, 1, "a.b", /invalid session name/);
    assertFails(`${"a".repeat(43)} { passwd x; }\n`, 1, "a".repeat(43), /invalid session name \(1 to 42/);
    assertFails(`cobra\n  passwd x;\n`, 1, "cobra", /expected '\{' after the section name, got 'passwd'/);
    assertFails(`cobra { passwd x; }\n}\n`, 2, null, /expected a section name .*got '}'/);
    assertFails(`"cobra" { }\n`, 1, null, /expected a section name .*got 'cobra'/);
    assertFails(`s {\n  "passwd" x;\n}\n`, 2, null, /expected a keyword in session "s", got 'passwd'/);
  });
});
