/**
 * The TOML configuration: a full example parses to the right values
 * (defaults, [default] inheritance and per-host overrides), every option and
 * session key with each of its spellings, the up/down command forms, and every
 * kind of mistake refused with a message that names the file, the line and the
 * key. Also loadTomlConfig on real files and loadConfig's choice of reader.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadTomlConfig, parseTomlConfig } from "./toml.ts";
import { loadConfig } from "./load.ts";
import { CIPHERS } from "./ciphers.ts";
import { DEFAULT_OPTIONS, type Config, type SessionConfig } from "./config.ts";

const SOURCE = "vt.toml";

const EXAMPLE = `# vtunts example configuration
[options]
port = 5000
bindaddr = "0.0.0.0"
timeout = 30
ip = "/usr/sbin/ip"

[default]
proto = "udp"
keepalive = "yes"
persist = "yes"
encrypt = "no"

[hosts.office]
passwd = "Ma&^TU"
device = "tun1"
encrypt = "aes128cbc"
compress = "lzo:9"
up = ["ip addr add 10.3.0.1/30 dev %%", { ip = "link set %d up" }]
down = [{ program = "/bin/echo", args = "down %d", wait = true }]

[hosts.home]
passwd = "s3cret"
proto = "tcp"
keepalive = "10:3"
persist = false
timeout = 60

[hosts.lab]
passwd = "lab"
keepalive = "no"
persist = "keep"
`;

/** Every default of a TOML session named `name` with password `passwd`. */
function defaults(name: string, passwd: string): SessionConfig {
  return {
    name,
    passwd,
    type: "tun",
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

function session(config: Config, name: string): SessionConfig {
  const s = config.sessions.get(name);
  assert.ok(s, `session ${name} missing`);
  return s;
}

/** Parses `text`, expects a ConfigError, and returns its message. */
function errorOf(text: string): string {
  try {
    parseTomlConfig(text, SOURCE);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("expected a ConfigError, but the configuration was accepted");
}

/** Asserts that `text` fails at `line` with `where` named and `problem` in the message. */
function assertFails(text: string, line: number, where: string, problem: RegExp): void {
  const message = errorOf(text);
  assert.ok(message.startsWith(`${SOURCE}:${line}: ${where}: `), `unexpected location in: ${message}`);
  assert.match(message, problem);
  assert.doesNotMatch(message, /\n/, "one line");
}

const HOST = `[hosts.office]\npasswd = "pw"\n`;
/** The session "office" of HOST plus `lines`. */
const office = (lines: string) => session(parseTomlConfig(`${HOST}${lines}\n`, SOURCE), "office");
const options = (lines: string) => parseTomlConfig(`[options]\n${lines}\n`, SOURCE).options;

describe("parseTomlConfig: the full example", () => {
  const config = parseTomlConfig(EXAMPLE, SOURCE);

  it("reads [options] and records the source", () => {
    assert.equal(config.source, SOURCE);
    assert.deepEqual(config.options, { ...DEFAULT_OPTIONS, programs: { ...DEFAULT_OPTIONS.programs, ip: "/usr/sbin/ip" } });
  });

  it("has exactly the three sessions, in file order, and no warnings", () => {
    assert.deepEqual([...config.sessions.keys()], ["office", "home", "lab"]);
    assert.equal(config.warnings, undefined);
  });

  it("office inherits [default] and has its own device, cipher, compression and commands", () => {
    assert.deepEqual(session(config, "office"), {
      ...defaults("office", "Ma&^TU"),
      proto: "udp",
      device: "tun1",
      persist: "yes",
      keepalive: { intervalSec: 30, maxFail: 4 },
      encrypt: 10,
      compress: { method: "lzo", level: 9 },
      up: [
        { program: null, args: "ip addr add 10.3.0.1/30 dev %%", wait: true, delayAfter: 0 },
        { program: "/usr/sbin/ip", args: "link set %d up", wait: true, delayAfter: 0 },
      ],
      down: [{ program: "/bin/echo", args: "down %d", wait: true, delayAfter: 0 }],
    });
  });

  it("home overrides proto, keepalive, persist (a boolean) and timeout", () => {
    assert.deepEqual(session(config, "home"), {
      ...defaults("home", "s3cret"),
      keepalive: { intervalSec: 10, maxFail: 3 },
      timeout: 60,
    });
  });

  it("lab turns keepalive off and keeps the device", () => {
    const lab = session(config, "lab");
    assert.equal(lab.keepalive, null);
    assert.equal(lab.persist, "keep");
    assert.equal(lab.proto, "udp");
  });

  it("each session gets its own keepalive object", () => {
    const a = session(config, "office").keepalive;
    const b = parseTomlConfig(EXAMPLE, SOURCE).sessions.get("office")?.keepalive;
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
  });
});

describe("parseTomlConfig: defaults", () => {
  it("an empty file has vtund's options and no sessions", () => {
    const config = parseTomlConfig("", SOURCE);
    assert.deepEqual(config.options, DEFAULT_OPTIONS);
    assert.notEqual(config.options.programs, DEFAULT_OPTIONS.programs, "a copy, not the shared default");
    assert.equal(config.sessions.size, 0);
  });

  it("a host with only a password gets every default (type tun)", () => {
    assert.deepEqual(office(""), defaults("office", "pw"));
  });

  it("partial [options] keep the other defaults", () => {
    assert.deepEqual(options("port = 6000"), { ...DEFAULT_OPTIONS, port: 6000 });
  });

  it("the password may come from [default]", () => {
    const config = parseTomlConfig(`[default]\npasswd = "shared"\n[hosts.a]\n[hosts.b]\npasswd = "own"\n`, SOURCE);
    assert.equal(session(config, "a").passwd, "shared");
    assert.equal(session(config, "b").passwd, "own");
  });

  it("every session key can come from [default]", () => {
    const config = parseTomlConfig(
      `[default]\nencrypt = "yes"\ncompress = "zlib:9"\nspeed = "64:32"\nstat = true\nmulti = "killold"\n` +
        `srcaddr = { addr = "192.0.2.1" }\nnat_hack = "client"\nup = ["a"]\ndown = ["b"]\ntype = "ether"\n${HOST}`,
      SOURCE,
    );
    const s = session(config, "office");
    assert.equal(s.encrypt, 1);
    assert.deepEqual(s.compress, { method: "zlib", level: 9 });
    assert.deepEqual(s.speed, { toClient: 64, toServer: 32 });
    assert.equal(s.stat, true);
    assert.equal(s.multi, "killold");
    assert.deepEqual(s.srcaddr, { addr: "192.0.2.1", iface: null, port: null });
    assert.equal(s.natHack, "client");
    assert.equal(s.up[0]?.args, "a");
    assert.equal(s.down[0]?.args, "b");
    assert.equal(s.type, "ether");
  });

  it("a host's own key wins over [default], even under another spelling", () => {
    const config = parseTomlConfig(`[default]\npasswd = "shared"\nnat_hack = "client"\n[hosts.a]\npassword = "own"\ndelay_udp = "server"\n`, SOURCE);
    assert.equal(session(config, "a").passwd, "own");
    assert.equal(session(config, "a").natHack, "server");
  });

  it("a 15-character device name is accepted", () => {
    assert.equal(office(`device = "abcdefghijklmno"`).device, "abcdefghijklmno");
  });

  it("session names may use . _ - + = @ ~", () => {
    const config = parseTomlConfig(`[hosts."a.b_c-d+e=f@g~h"]\npasswd = "pw"\n`, SOURCE);
    assert.deepEqual([...config.sessions.keys()], ["a.b_c-d+e=f@g~h"]);
  });
});

describe("parseTomlConfig: [options] keys", () => {
  it("port, timeout", () => {
    assert.equal(options("port = 1").port, 1);
    assert.equal(options("port = 65535").port, 65535);
    assert.equal(options("timeout = 86400").timeout, 86400);
  });

  it("bindaddr (IPv4 or IPv6) and bindiface", () => {
    assert.equal(options(`bindaddr = "127.0.0.1"`).bindaddr, "127.0.0.1");
    assert.equal(options(`bindaddr = "::"`).bindaddr, "::");
    assert.deepEqual(
      [options(`bindiface = "lo"`).bindiface, options(`bindiface = "lo"`).bindaddr],
      ["lo", "0.0.0.0"],
    );
  });

  it("family, ipv4 = true, ipv6 = true / false", () => {
    assert.equal(options(`family = "ipv6"`).family, "ipv6");
    assert.equal(options(`family = "ipv4"`).family, "ipv4");
    assert.equal(options(`ipv6 = true`).family, "ipv6");
    assert.equal(options(`ipv6 = false`).family, "ipv4");
    assert.equal(options(`ipv4 = true`).family, "ipv4");
    assert.equal(options(`ipv4 = false`).family, "ipv6");
  });

  it("type stand | inetd → mode", () => {
    assert.equal(options(`type = "inetd"`).mode, "inetd");
    assert.equal(options(`type = "stand"`).mode, "stand");
  });

  it("syslog facility names", () => {
    assert.equal(options(`syslog = "local3"`).syslog, "local3");
    assert.equal(options(`syslog = "user"`).syslog, "user");
  });

  it("program paths ppp, ifconfig (or ifcfg), route, firewall, ip", () => {
    const o = options(`ppp = "/p"\nifconfig = "/i"\nroute = "/r"\nfirewall = "/f"\nip = "/x/ip"`);
    assert.deepEqual(o.programs, { ppp: "/p", ifconfig: "/i", route: "/r", firewall: "/f", ip: "/x/ip" });
    assert.equal(options(`ifcfg = "/sbin/ifcfg"`).programs.ifconfig, "/sbin/ifcfg");
  });
});

describe("parseTomlConfig: session keys", () => {
  it("passwd or password", () => {
    assert.equal(session(parseTomlConfig(`[hosts.a]\npassword = "x y"\n`, SOURCE), "a").passwd, "x y");
  });

  it("type tun, ether, tty, pipe", () => {
    for (const t of ["tun", "ether", "tty", "pipe"]) assert.equal(office(`type = "${t}"`).type, t);
  });

  it("proto tcp, udp", () => {
    assert.equal(office(`proto = "udp"`).proto, "udp");
    assert.equal(office(`proto = "tcp"`).proto, "tcp");
  });

  it("keepalive yes / true → 30:4, interval:count, no / false → off", () => {
    assert.deepEqual(office(`keepalive = "yes"`).keepalive, { intervalSec: 30, maxFail: 4 });
    assert.deepEqual(office(`keepalive = true`).keepalive, { intervalSec: 30, maxFail: 4 });
    assert.deepEqual(office(`keepalive = "10:3"`).keepalive, { intervalSec: 10, maxFail: 3 });
    assert.deepEqual(office(`keepalive = "1:1"`).keepalive, { intervalSec: 1, maxFail: 1 });
    assert.equal(office(`keepalive = "no"`).keepalive, null);
    assert.equal(office(`keepalive = false`).keepalive, null);
  });

  it("persist yes / true, no / false, keep", () => {
    assert.equal(office(`persist = true`).persist, "yes");
    assert.equal(office(`persist = "yes"`).persist, "yes");
    assert.equal(office(`persist = false`).persist, "no");
    assert.equal(office(`persist = "keep"`).persist, "keep");
  });

  it("encrypt: yes / true = 1, no / false / 0 = off", () => {
    assert.equal(office(`encrypt = "yes"`).encrypt, 1);
    assert.equal(office(`encrypt = true`).encrypt, 1);
    assert.equal(office(`encrypt = "no"`).encrypt, null);
    assert.equal(office(`encrypt = false`).encrypt, null);
    assert.equal(office(`encrypt = 0`).encrypt, null);
  });

  it("encrypt: every cipher name and number of vtund's table", () => {
    assert.equal(CIPHERS.length, 17);
    for (const [name, n] of CIPHERS) {
      assert.equal(office(`encrypt = "${name}"`).encrypt, n, name);
      assert.equal(office(`encrypt = ${n}`).encrypt, n, String(n));
    }
  });

  it("compress: yes / true = zlib:1, zlib:N, lzo:N, a bare level N = zlib N, no / false / 0 = off", () => {
    assert.deepEqual(office(`compress = "yes"`).compress, { method: "zlib", level: 1 });
    assert.deepEqual(office(`compress = true`).compress, { method: "zlib", level: 1 });
    assert.deepEqual(office(`compress = "zlib:1"`).compress, { method: "zlib", level: 1 });
    assert.deepEqual(office(`compress = "zlib:9"`).compress, { method: "zlib", level: 9 });
    assert.deepEqual(office(`compress = "lzo:1"`).compress, { method: "lzo", level: 1 });
    assert.deepEqual(office(`compress = "lzo:9"`).compress, { method: "lzo", level: 9 });
    assert.deepEqual(office(`compress = 6`).compress, { method: "zlib", level: 6 });
    assert.equal(office(`compress = "no"`).compress, null);
    assert.equal(office(`compress = false`).compress, null);
    assert.equal(office(`compress = 0`).compress, null);
  });

  it("speed: N or \"N\" both ways, \"A:B\" (A to the client), 0 / \"0\" / \"0:0\" = off", () => {
    assert.deepEqual(office(`speed = 64`).speed, { toClient: 64, toServer: 64 });
    assert.deepEqual(office(`speed = "64"`).speed, { toClient: 64, toServer: 64 });
    assert.deepEqual(office(`speed = "256:128"`).speed, { toClient: 256, toServer: 128 });
    assert.deepEqual(office(`speed = "0:128"`).speed, { toClient: 0, toServer: 128 });
    assert.equal(office(`speed = 0`).speed, null);
    assert.equal(office(`speed = "0"`).speed, null);
    assert.equal(office(`speed = "0:0"`).speed, null);
  });

  it("stat yes / true, no / false", () => {
    assert.equal(office(`stat = "yes"`).stat, true);
    assert.equal(office(`stat = true`).stat, true);
    assert.equal(office(`stat = "no"`).stat, false);
    assert.equal(office(`stat = false`).stat, false);
  });

  it("multi yes / allow / true, no / deny / false, killold", () => {
    for (const v of [`"yes"`, `"allow"`, "true"]) assert.equal(office(`multi = ${v}`).multi, "allow", v);
    for (const v of [`"no"`, `"deny"`, "false"]) assert.equal(office(`multi = ${v}`).multi, "deny", v);
    assert.equal(office(`multi = "killold"`).multi, "killold");
  });

  it("srcaddr { addr, port } / { iface } / {} (= none), inline or as a sub-table", () => {
    assert.deepEqual(office(`srcaddr = { addr = "192.0.2.7", port = 5001 }`).srcaddr, { addr: "192.0.2.7", iface: null, port: 5001 });
    assert.deepEqual(office(`srcaddr = { addr = "2001:db8::1" }`).srcaddr, { addr: "2001:db8::1", iface: null, port: null });
    assert.deepEqual(office(`srcaddr = { iface = "eth0" }`).srcaddr, { addr: null, iface: "eth0", port: null });
    assert.deepEqual(office(`srcaddr = { port = 7 }`).srcaddr, { addr: null, iface: null, port: 7 });
    assert.equal(office(`srcaddr = {}`).srcaddr, null);
    assert.deepEqual(office(`[hosts.office.srcaddr]\niface = "wlan0"`).srcaddr, { addr: null, iface: "wlan0", port: null });
  });

  it("nat_hack / delay_udp: client, server, no / false", () => {
    assert.equal(office(`nat_hack = "client"`).natHack, "client");
    assert.equal(office(`nat_hack = "server"`).natHack, "server");
    assert.equal(office(`delay_udp = "server"`).natHack, "server");
    assert.equal(office(`nat_hack = "no"`).natHack, null);
    assert.equal(office(`nat_hack = false`).natHack, null);
  });

  it("tcp_congestion: an algorithm name, or \"system\" (the default)", () => {
    assert.equal(office(``).tcpCongestion, null);
    assert.equal(office(`tcp_congestion = "reno"`).tcpCongestion, "reno");
    assert.equal(office(`tcp_congestion = "bbr"`).tcpCongestion, "bbr");
    assert.equal(office(`tcp_congestion = "system"`).tcpCongestion, null);
    const fromDefault = parseTomlConfig(`[default]\ntcp_congestion = "cubic"\n${HOST}[hosts.own]\npasswd = "pw"\ntcp_congestion = "system"\n`, SOURCE);
    assert.equal(session(fromDefault, "office").tcpCongestion, "cubic");
    assert.equal(session(fromDefault, "own").tcpCongestion, null);
  });

  it("tcp_congestion: not a name the kernel could have is refused", () => {
    for (const value of [`"Reno"`, `"reno cubic"`, `""`, `"a_name_of_16_chr"`, `"../bbr"`, `1`, `true`]) {
      assertFails(`${HOST}tcp_congestion = ${value}\n`, 3, "hosts.office.tcp_congestion", /must be "system" or the name of a TCP congestion control algorithm/);
    }
  });

  it("sslauth yes / true is accepted", () => {
    assert.equal(office(`sslauth = "yes"`).passwd, "pw");
    assert.equal(office(`sslauth = true`).passwd, "pw");
  });
});

describe("parseTomlConfig: up/down commands", () => {
  const PATHS = `[options]\nppp = "/P"\nifconfig = "/I"\nroute = "/R"\nfirewall = "/F"\nip = "/IP"\n`;
  const up = (entries: string, prefix = PATHS) => session(parseTomlConfig(`${prefix}${HOST}up = [${entries}]\n`, SOURCE), "office").up;

  it("a string is a shell command that is waited for", () => {
    assert.deepEqual(up(`"echo hi"`), [{ program: null, args: "echo hi", wait: true, delayAfter: 0 }]);
  });

  it("named commands use the [options] programs; ppp is not waited for and pauses 10 s", () => {
    assert.deepEqual(up(`{ ip = "a" }, { ifconfig = "b" }, { ifcfg = "c" }, { route = "d" }, { firewall = "e" }, { ppp = "f" }`), [
      { program: "/IP", args: "a", wait: true, delayAfter: 0 },
      { program: "/I", args: "b", wait: true, delayAfter: 0 },
      { program: "/I", args: "c", wait: true, delayAfter: 0 },
      { program: "/R", args: "d", wait: true, delayAfter: 0 },
      { program: "/F", args: "e", wait: true, delayAfter: 0 },
      { program: "/P", args: "f", wait: false, delayAfter: 10 },
    ]);
  });

  it("named commands use the default paths without [options]", () => {
    assert.deepEqual(up(`{ ip = "x" }`, ""), [{ program: "/sbin/ip", args: "x", wait: true, delayAfter: 0 }]);
  });

  it("program tables: wait defaults to false (vtund's program), delay to 0; without program: /bin/sh -c args", () => {
    assert.deepEqual(up(`{ program = "/bin/x" }, { program = "/bin/y", args = "-a", wait = true, delay = 3 }, { args = "echo", wait = false }`), [
      { program: "/bin/x", args: "", wait: false, delayAfter: 0 },
      { program: "/bin/y", args: "-a", wait: true, delayAfter: 3 },
      { program: null, args: "echo", wait: false, delayAfter: 0 },
    ]);
  });

  it("down takes the same forms; an empty list is no commands", () => {
    const s = session(parseTomlConfig(`${HOST}up = []\ndown = ["x", { route = "del" }]\n`, SOURCE), "office");
    assert.deepEqual(s.up, []);
    assert.deepEqual(s.down, [
      { program: null, args: "x", wait: true, delayAfter: 0 },
      { program: "/sbin/route", args: "del", wait: true, delayAfter: 0 },
    ]);
  });
});

describe("parseTomlConfig: errors", () => {
  it("TOML syntax error → file:line:col", () => {
    const message = errorOf(`[options]\nport = 5000\ntimeout = = 3\n`);
    assert.match(message, /^vt\.toml:3:\d+: /);
    const col = Number(/^vt\.toml:3:(\d+):/.exec(message)?.[1]);
    assert.ok(col >= 9 && col <= 11, `column ${col} should point at the second "="`);
  });

  it("unknown top-level table or key, misspelled [host.NAME]", () => {
    assertFails(`[options]\nport = 5000\n\n[bogus]\nx = 1\n`, 4, "bogus", /unknown section/);
    assertFails(`title = "x"\n[options]\n`, 1, "title", /unknown section/);
    assertFails(`[options]\n[host.office]\npasswd = "pw"\n`, 2, "host", /unknown section/);
  });

  it("unknown key in [options], a host, [default]", () => {
    assertFails(`[options]\nport = 5000\nprot = 5001\n`, 3, "options.prot", /unknown key .*port, bindaddr, bindiface, timeout/);
    assertFails(`[hosts.office]\npasswd = "pw"\n\npasword = "x"\n`, 4, "hosts.office.pasword", /unknown key/);
    assertFails(`[default]\nproto = "tcp"\nprotocol = "udp"\n${HOST}`, 3, "default.protocol", /unknown key/);
    assertFails(`${HOST}ppp = "noauth"\n`, 3, "hosts.office.ppp", /unknown key/);
  });

  it("port: a string, 70000, 0", () => {
    assertFails(`[options]\nport = "5000"\n`, 2, "options.port", /1 to 65535, got "5000"/);
    assertFails(`[options]\n\nport = 70000\n`, 3, "options.port", /1 to 65535, got 70000/);
    assertFails(`[options]\nport = 0\n`, 2, "options.port", /got 0/);
  });

  it("bindaddr that is no address, bindiface that is no interface name, both", () => {
    assertFails(`[options]\nbindaddr = "localhost"\n`, 2, "options.bindaddr", /IPv4 or IPv6 address, got "localhost"/);
    assertFails(`[options]\nbindiface = "e t h"\n`, 2, "options.bindiface", /interface name .*got "e t h"/);
    assertFails(`[options]\nbindaddr = "::"\nbindiface = "lo"\n`, 3, "options.bindiface", /only one of bindaddr, bindiface/);
  });

  it("family: bad value, a non-boolean ipv6, two spellings at once", () => {
    assertFails(`[options]\nfamily = "inet6"\n`, 2, "options.family", /"ipv4" or "ipv6", got "inet6"/);
    assertFails(`[options]\nipv6 = "yes"\n`, 2, "options.ipv6", /true or false/);
    assertFails(`[options]\nfamily = "ipv4"\nipv6 = true\n`, 3, "options.ipv6", /only one of family, ipv4, ipv6/);
  });

  it("type and syslog in [options]", () => {
    assertFails(`[options]\ntype = "tun"\n`, 2, "options.type", /"stand" or "inetd", got "tun"/);
    assertFails(`[options]\nsyslog = "local9"\n`, 2, "options.syslog", /syslog facility .*local7.*got "local9"/);
    assertFails(`[options]\nsyslog = 3\n`, 2, "options.syslog", /got 3/);
  });

  it("program paths must be absolute; ifconfig and ifcfg exclude each other", () => {
    assertFails(`[options]\nip = "ip"\n`, 2, "options.ip", /absolute path, got "ip"/);
    assertFails(`[options]\nppp = 1\n`, 2, "options.ppp", /absolute path/);
    assertFails(`[options]\nifconfig = "/a"\nifcfg = "/b"\n`, 3, "options.ifcfg", /only one of ifconfig, ifcfg/);
  });

  it("timeout 0 in [options] and in a host", () => {
    assertFails(`[options]\ntimeout = 0\n`, 2, "options.timeout", /seconds from 1 to 86400, got 0/);
    assertFails(`${HOST}timeout = 0\n`, 3, "hosts.office.timeout", /seconds from 1 to 86400, got 0/);
    assertFails(`${HOST}timeout = 1.5\n`, 3, "hosts.office.timeout", /got 1.5/);
  });

  it("keepalive \"abc\" and out-of-range keepalives", () => {
    assertFails(`${HOST}keepalive = "abc"\n`, 3, "hosts.office.keepalive", /"interval:count".*got "abc"/);
    assertFails(`${HOST}keepalive = "0:3"\n`, 3, "hosts.office.keepalive", /got "0:3"/);
    assertFails(`${HOST}keepalive = "10:0"\n`, 3, "hosts.office.keepalive", /got "10:0"/);
    assertFails(`${HOST}keepalive = 30\n`, 3, "hosts.office.keepalive", /got 30/);
  });

  it("type, proto, persist with bad values", () => {
    assertFails(`${HOST}type = "slip"\n`, 3, "hosts.office.type", /"tun" or "ether" or "tty" or "pipe", got "slip"/);
    assertFails(`${HOST}proto = "sctp"\n`, 3, "hosts.office.proto", /"tcp" or "udp", got "sctp"/);
    assertFails(`${HOST}persist = "maybe"\n`, 3, "hosts.office.persist", /got "maybe"/);
  });

  it("encrypt: unknown cipher, unknown number, upper case", () => {
    assertFails(`${HOST}encrypt = "aes512cbc"\n`, 3, "hosts.office.encrypt", /cipher name .*got "aes512cbc"/);
    assertFails(`${HOST}encrypt = 17\n`, 3, "hosts.office.encrypt", /got 17/);
    assertFails(`${HOST}encrypt = "AES128CBC"\n`, 3, "hosts.office.encrypt", /got "AES128CBC"/);
  });

  it("encrypt in [default] is checked at [default]", () => {
    assertFails(`[default]\nencrypt = "des"\n${HOST}`, 2, "default.encrypt", /got "des"/);
  });

  it("compress: level 0 or 10, an unknown method, a bare method name", () => {
    assertFails(`${HOST}compress = "zlib:10"\n`, 3, "hosts.office.compress", /N from 1 to 9.*got "zlib:10"/);
    assertFails(`${HOST}compress = "lzo:0"\n`, 3, "hosts.office.compress", /got "lzo:0"/);
    assertFails(`${HOST}compress = "bzip2:5"\n`, 3, "hosts.office.compress", /got "bzip2:5"/);
    assertFails(`${HOST}compress = 10\n`, 3, "hosts.office.compress", /got 10/);
    assertFails(`${HOST}compress = "lzo"\n`, 3, "hosts.office.compress", /"lzo" needs a level: write "lzo:N".*zlib level 2/);
    assertFails(`${HOST}compress = "zlib"\n`, 3, "hosts.office.compress", /"zlib" needs a level/);
  });

  it("speed: negative, a word, three numbers", () => {
    assertFails(`${HOST}speed = -1\n`, 3, "hosts.office.speed", /kbit\/s.*got -1/);
    assertFails(`${HOST}speed = "fast"\n`, 3, "hosts.office.speed", /got "fast"/);
    assertFails(`${HOST}speed = "1:2:3"\n`, 3, "hosts.office.speed", /got "1:2:3"/);
  });

  it("stat, multi, nat_hack with bad values; nat_hack and delay_udp together", () => {
    assertFails(`${HOST}stat = 1\n`, 3, "hosts.office.stat", /"yes" or "no", got 1/);
    assertFails(`${HOST}multi = "killnew"\n`, 3, "hosts.office.multi", /"killold", got "killnew"/);
    assertFails(`${HOST}nat_hack = "yes"\n`, 3, "hosts.office.nat_hack", /"client" or "server" or "no", got "yes"/);
    assertFails(`${HOST}nat_hack = "client"\ndelay_udp = "client"\n`, 4, "hosts.office.delay_udp", /only one of nat_hack, delay_udp/);
  });

  it("sslauth = \"no\" is not supported", () => {
    assertFails(`${HOST}sslauth = "no"\n`, 3, "hosts.office.sslauth", /"no" is not supported/);
    assertFails(`${HOST}sslauth = false\n`, 3, "hosts.office.sslauth", /not supported/);
    assertFails(`${HOST}sslauth = "maybe"\n`, 3, "hosts.office.sslauth", /got "maybe"/);
  });

  it("srcaddr: not a table, unknown key, addr and iface, a host name, a bad port or iface", () => {
    assertFails(`${HOST}srcaddr = "192.0.2.1"\n`, 3, "hosts.office.srcaddr", /a table like/);
    assertFails(`${HOST}srcaddr = { address = "192.0.2.1" }\n`, 3, "hosts.office.srcaddr", /unknown key "address"/);
    assertFails(`${HOST}srcaddr = { addr = "192.0.2.1", iface = "eth0" }\n`, 3, "hosts.office.srcaddr", /either addr or iface/);
    assertFails(`${HOST}srcaddr = { addr = "gw.example" }\n`, 3, "hosts.office.srcaddr", /addr must be an IPv4 or IPv6 address, got "gw.example"/);
    assertFails(`${HOST}srcaddr = { port = 0 }\n`, 3, "hosts.office.srcaddr", /port must be .* 1 to 65535, got 0/);
    assertFails(`${HOST}srcaddr = { iface = "a b" }\n`, 3, "hosts.office.srcaddr", /iface must be an interface name/);
    assertFails(`${HOST}\n[hosts.office.srcaddr]\nfoo = 1\n`, 4, "hosts.office.srcaddr", /unknown key "foo"/);
  });

  it("up/down: not a list, a number, a named command with extra keys or a non-string", () => {
    assertFails(`${HOST}up = "ip link set %% up"\n`, 3, "hosts.office.up", /a list of commands/);
    assertFails(`${HOST}down = ["ok", 3]\n`, 3, "hosts.office.down", /entry 2: must be a string or a table, got 3/);
    assertFails(`${HOST}up = [{ ip = "a", wait = false }]\n`, 3, "hosts.office.up", /entry 1: \{ ip = "…" \} takes no other keys/);
    assertFails(`${HOST}up = [{ ip = ["a"] }]\n`, 3, "hosts.office.up", /entry 1: ip must be a string/);
  });

  it("up/down: program tables with unknown keys or bad values", () => {
    assertFails(`${HOST}up = [{ prog = "/bin/x" }]\n`, 3, "hosts.office.up", /entry 1: unknown key "prog"/);
    assertFails(`${HOST}up = [{ toString = "/bin/x" }]\n`, 3, "hosts.office.up", /entry 1: unknown key "toString"/);
    assertFails(`${HOST}up = [{ program = "x" }]\n`, 3, "hosts.office.up", /program must be an absolute path, got "x"/);
    assertFails(`${HOST}up = [{ program = "/x", args = 1 }]\n`, 3, "hosts.office.up", /args must be a string/);
    assertFails(`${HOST}up = [{ wait = true }]\n`, 3, "hosts.office.up", /needs program, or args/);
    assertFails(`${HOST}up = [{ args = "x", wait = "yes" }]\n`, 3, "hosts.office.up", /wait must be true or false/);
    assertFails(`${HOST}up = [{ args = "x", delay = -1 }]\n`, 3, "hosts.office.up", /delay must be .* 0 to 3600, got -1/);
  });

  it("device name longer than 15 characters, or with odd characters", () => {
    assertFails(`${HOST}device = "abcdefghijklmnop"\n`, 3, "hosts.office.device", /1 to 15 characters, got "abcdefghijklmnop"/);
    assertFails(`${HOST}device = "tun 0"\n`, 3, "hosts.office.device", /got "tun 0"/);
    assertFails(`${HOST}device = ""\n`, 3, "hosts.office.device", /got ""/);
  });

  it("a bad value inherited from [default] is reported at [default]", () => {
    assertFails(`[default]\nproto = "sctp"\n${HOST}`, 2, "default.proto", /got "sctp"/);
  });

  it("missing passwd; empty or non-string passwd; passwd and password together", () => {
    assertFails(`[options]\n\n[hosts.office]\nproto = "tcp"\n`, 3, "hosts.office", /needs a password/);
    assertFails(`[hosts.office]\npasswd = ""\n`, 2, "hosts.office.passwd", /non-empty string/);
    assertFails(`[hosts.office]\npasswd = 1234\n`, 2, "hosts.office.passwd", /non-empty string/);
    assertFails(`[hosts.office]\npasswd = "a"\npassword = "b"\n`, 3, "hosts.office.password", /only one of passwd, password/);
  });

  it("session name with a space or a colon, or longer than 42 characters", () => {
    assertFails(`[options]\n[hosts."a b"]\npasswd = "pw"\n`, 2, "hosts.a b", /no spaces or colons/);
    assertFails(`[hosts."a:b"]\npasswd = "pw"\n`, 1, "hosts.a:b", /no spaces or colons/);
    const name = "a".repeat(43);
    assertFails(`[hosts.${name}]\npasswd = "pw"\n`, 1, `hosts.${name}`, /1 to 42/);
  });

  it("sections of the wrong shape", () => {
    assertFails(`options = 3\n`, 1, "options", /must be a table/);
    assertFails(`[hosts]\noffice = "pw"\n`, 2, "hosts.office", /must be a table/);
  });
});

describe("loadTomlConfig and loadConfig", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vtunts-config-test-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads a file and names it as the source", () => {
    const path = join(dir, "vtunts.toml");
    writeFileSync(path, EXAMPLE);
    const config = loadTomlConfig(path);
    assert.equal(config.source, path);
    assert.deepEqual([...config.sessions.keys()], ["office", "home", "lab"]);
    assert.equal(loadConfig(path).options.programs.ip, "/usr/sbin/ip");
  });

  it("errors in a file name the file and line", () => {
    const path = join(dir, "bad.toml");
    writeFileSync(path, `[options]\nport = 70000\n`);
    assert.throws(() => loadConfig(path), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith(`${path}:2: options.port: `), e.message);
      return true;
    });
  });

  it("a missing file → ConfigError with the path and ENOENT (both readers)", () => {
    for (const name of ["nonexistent.toml", "nonexistent.conf"]) {
      const path = join(dir, name);
      assert.throws(() => loadConfig(path), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.ok(e.message.startsWith(`${path}: `), e.message);
        assert.match(e.message, /ENOENT/);
        return true;
      });
    }
  });

  it("a file not ending in .toml is read as vtund.conf (default type tty)", () => {
    const path = join(dir, "vtund.conf");
    writeFileSync(path, `options { port 6000; }\ncobra { passwd pw; }\n`);
    const config = loadConfig(path);
    assert.equal(config.options.port, 6000);
    assert.equal(config.sessions.get("cobra")?.type, "tty");
    // and TOML syntax in such a file is a vtund.conf error, with file:line
    writeFileSync(path, `[options]\nport = 6000\n`);
    assert.throws(() => loadConfig(path), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${path}:1: `));
  });
});
