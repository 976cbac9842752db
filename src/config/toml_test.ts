/**
 * The TOML configuration: a full example parses to the right values
 * (defaults, [default] inheritance and per-host overrides, keepalive and
 * yes/no spellings, up/down lists), and every kind of mistake is refused with
 * a message that names the file, the line and the key. Also loadTomlConfig
 * on real files and loadConfig's refusal of classic vtund.conf files.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadTomlConfig, parseTomlConfig } from "./toml.ts";
import { loadConfig } from "./load.ts";
import type { Config, SessionConfig } from "./config.ts";

const SOURCE = "vt.toml";

const EXAMPLE = `# vtunts example configuration
[options]
port = 5000
bindaddr = "0.0.0.0"
timeout = 30

[default]
proto = "udp"
keepalive = "yes"
persist = "yes"
encrypt = "no"

[hosts.office]
passwd = "Ma&^TU"
device = "tun1"
up = ["ip addr add 10.3.0.1/30 dev %%", "ip link set %% up"]
down = ["ip link set %% down"]

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
}

const HOST = `[hosts.office]\npasswd = "pw"\n`;

describe("parseTomlConfig: the full example", () => {
  const config = parseTomlConfig(EXAMPLE, SOURCE);

  it("reads [options] and records the source", () => {
    assert.equal(config.source, SOURCE);
    assert.deepEqual(config.options, { port: 5000, bindaddr: "0.0.0.0", timeout: 30 });
  });

  it("has exactly the three sessions, in file order", () => {
    assert.deepEqual([...config.sessions.keys()], ["office", "home", "lab"]);
  });

  it("office inherits [default] and has its own device and commands", () => {
    assert.deepEqual(session(config, "office"), {
      name: "office",
      passwd: "Ma&^TU",
      type: "tun",
      proto: "udp",
      device: "tun1",
      persist: "yes",
      keepalive: { intervalSec: 30, maxFail: 4 },
      timeout: 30,
      up: ["ip addr add 10.3.0.1/30 dev %%", "ip link set %% up"],
      down: ["ip link set %% down"],
    });
  });

  it("home overrides proto, keepalive, persist (a boolean) and timeout", () => {
    assert.deepEqual(session(config, "home"), {
      name: "home",
      passwd: "s3cret",
      type: "tun",
      proto: "tcp",
      device: null,
      persist: "no",
      keepalive: { intervalSec: 10, maxFail: 3 },
      timeout: 60,
      up: [],
      down: [],
    });
  });

  it("lab turns keepalive off and keeps the device", () => {
    const lab = session(config, "lab");
    assert.equal(lab.keepalive, null);
    assert.equal(lab.persist, "keep");
    assert.equal(lab.proto, "udp");
  });

  it("each session gets its own keepalive object", () => {
    const office = session(config, "office").keepalive;
    const again = parseTomlConfig(EXAMPLE, SOURCE).sessions.get("office")?.keepalive;
    assert.notEqual(office, again);
    assert.deepEqual(office, again);
  });
});

describe("parseTomlConfig: defaults", () => {
  it("an empty file has vtund's options and no sessions", () => {
    const config = parseTomlConfig("", SOURCE);
    assert.deepEqual(config.options, { port: 5000, bindaddr: "0.0.0.0", timeout: 30 });
    assert.equal(config.sessions.size, 0);
  });

  it("a host with only a password gets every default", () => {
    const config = parseTomlConfig(HOST, SOURCE);
    assert.deepEqual(session(config, "office"), {
      name: "office",
      passwd: "pw",
      type: "tun",
      proto: "tcp",
      device: null,
      persist: "no",
      keepalive: null,
      timeout: 30,
      up: [],
      down: [],
    });
  });

  it("partial [options] keep the other defaults", () => {
    const config = parseTomlConfig(`[options]\nport = 6000\n`, SOURCE);
    assert.deepEqual(config.options, { port: 6000, bindaddr: "0.0.0.0", timeout: 30 });
  });

  it("bindaddr may be IPv6", () => {
    assert.equal(parseTomlConfig(`[options]\nbindaddr = "::"\n`, SOURCE).options.bindaddr, "::");
  });

  it("the password may come from [default]", () => {
    const config = parseTomlConfig(`[default]\npasswd = "shared"\n[hosts.a]\n[hosts.b]\npasswd = "own"\n`, SOURCE);
    assert.equal(session(config, "a").passwd, "shared");
    assert.equal(session(config, "b").passwd, "own");
  });

  it("a 15-character device name is accepted", () => {
    const config = parseTomlConfig(`${HOST}device = "abcdefghijklmno"\n`, SOURCE);
    assert.equal(session(config, "office").device, "abcdefghijklmno");
  });

  it("session names may use . _ - + = @ ~", () => {
    const config = parseTomlConfig(`[hosts."a.b_c-d+e=f@g~h"]\npasswd = "pw"\n`, SOURCE);
    assert.deepEqual([...config.sessions.keys()], ["a.b_c-d+e=f@g~h"]);
  });
});

describe("parseTomlConfig: yes/no keys", () => {
  const keepalive = (value: string) => session(parseTomlConfig(`${HOST}keepalive = ${value}\n`, SOURCE), "office").keepalive;
  const persist = (value: string) => session(parseTomlConfig(`${HOST}persist = ${value}\n`, SOURCE), "office").persist;

  it("keepalive yes / true → 30 s, 4 failures", () => {
    assert.deepEqual(keepalive(`"yes"`), { intervalSec: 30, maxFail: 4 });
    assert.deepEqual(keepalive("true"), { intervalSec: 30, maxFail: 4 });
  });

  it("keepalive interval:count", () => {
    assert.deepEqual(keepalive(`"10:3"`), { intervalSec: 10, maxFail: 3 });
    assert.deepEqual(keepalive(`"1:1"`), { intervalSec: 1, maxFail: 1 });
  });

  it("keepalive no / false → off", () => {
    assert.equal(keepalive(`"no"`), null);
    assert.equal(keepalive("false"), null);
  });

  it("persist true / false → yes / no", () => {
    assert.equal(persist("true"), "yes");
    assert.equal(persist("false"), "no");
    assert.equal(persist(`"keep"`), "keep");
  });

  it("off values of unimplemented keys are accepted", () => {
    const config = parseTomlConfig(`${HOST}encrypt = "no"\ncompress = false\nstat = "no"\nspeed = 0\nmulti = "yes"\n`, SOURCE);
    assert.equal(session(config, "office").passwd, "pw");
    const boolOff = parseTomlConfig(`${HOST}encrypt = false\n`, SOURCE);
    assert.equal(boolOff.sessions.size, 1);
  });
});

describe("parseTomlConfig: errors", () => {
  it("TOML syntax error → file:line:col", () => {
    const message = errorOf(`[options]\nport = 5000\ntimeout = = 3\n`);
    assert.match(message, /^vt\.toml:3:\d+: /);
    const col = Number(/^vt\.toml:3:(\d+):/.exec(message)?.[1]);
    assert.ok(col >= 9 && col <= 11, `column ${col} should point at the second "="`);
  });

  it("unknown top-level table", () => {
    assertFails(`[options]\nport = 5000\n\n[bogus]\nx = 1\n`, 4, "bogus", /unknown section/);
  });

  it("unknown top-level key", () => {
    assertFails(`title = "x"\n[options]\n`, 1, "title", /unknown section/);
  });

  it("misspelled [host.NAME] is an unknown section", () => {
    assertFails(`[options]\n[host.office]\npasswd = "pw"\n`, 2, "host", /unknown section/);
  });

  it("unknown key in [options]", () => {
    assertFails(`[options]\nport = 5000\nprot = 5001\n`, 3, "options.prot", /unknown option .*port, bindaddr, timeout/);
  });

  it("unknown key in a host", () => {
    assertFails(`[hosts.office]\npasswd = "pw"\n\npasword = "x"\n`, 4, "hosts.office.pasword", /unknown key/);
  });

  it("unknown key in [default]", () => {
    assertFails(`[default]\nproto = "tcp"\nprotocol = "udp"\n${HOST}`, 3, "default.protocol", /unknown key/);
  });

  it("port as a string", () => {
    assertFails(`[options]\nport = "5000"\n`, 2, "options.port", /1 to 65535, got "5000"/);
  });

  it("port 70000 and port 0", () => {
    assertFails(`[options]\n\nport = 70000\n`, 3, "options.port", /1 to 65535, got 70000/);
    assertFails(`[options]\nport = 0\n`, 2, "options.port", /got 0/);
  });

  it("bindaddr that is no address", () => {
    assertFails(`[options]\nbindaddr = "localhost"\n`, 2, "options.bindaddr", /IPv4 or IPv6 address, got "localhost"/);
  });

  it("timeout 0 in [options] and in a host", () => {
    assertFails(`[options]\ntimeout = 0\n`, 2, "options.timeout", /seconds from 1 to 86400, got 0/);
    assertFails(`${HOST}timeout = 0\n`, 3, "hosts.office.timeout", /seconds from 1 to 86400, got 0/);
  });

  it("keepalive \"abc\" and out-of-range keepalives", () => {
    assertFails(`${HOST}keepalive = "abc"\n`, 3, "hosts.office.keepalive", /"interval:count".*got "abc"/);
    assertFails(`${HOST}keepalive = "0:3"\n`, 3, "hosts.office.keepalive", /got "0:3"/);
    assertFails(`${HOST}keepalive = "10:0"\n`, 3, "hosts.office.keepalive", /got "10:0"/);
    assertFails(`${HOST}keepalive = 30\n`, 3, "hosts.office.keepalive", /got 30/);
  });

  it("proto \"sctp\"", () => {
    assertFails(`${HOST}proto = "sctp"\n`, 3, "hosts.office.proto", /"tcp" or "udp", got "sctp"/);
  });

  it("persist \"maybe\"", () => {
    assertFails(`${HOST}persist = "maybe"\n`, 3, "hosts.office.persist", /got "maybe"/);
  });

  it("up not a list, down with a non-string", () => {
    assertFails(`${HOST}up = "ip link set %% up"\n`, 3, "hosts.office.up", /list of command strings/);
    assertFails(`${HOST}down = ["ok", 3]\n`, 3, "hosts.office.down", /list of command strings/);
  });

  it("device name longer than 15 characters, or with odd characters", () => {
    assertFails(`${HOST}device = "abcdefghijklmnop"\n`, 3, "hosts.office.device", /1 to 15 characters, got "abcdefghijklmnop"/);
    assertFails(`${HOST}device = "tun 0"\n`, 3, "hosts.office.device", /got "tun 0"/);
    assertFails(`${HOST}device = ""\n`, 3, "hosts.office.device", /got ""/);
  });

  it("a bad value inherited from [default] is reported at [default]", () => {
    assertFails(`[default]\nproto = "sctp"\n${HOST}`, 2, "default.proto", /got "sctp"/);
  });

  it("missing passwd: the session needs a password", () => {
    assertFails(`[options]\n\n[hosts.office]\nproto = "tcp"\n`, 3, "hosts.office", /needs a password/);
  });

  it("empty or non-string passwd", () => {
    assertFails(`[hosts.office]\npasswd = ""\n`, 2, "hosts.office.passwd", /non-empty string/);
    assertFails(`[hosts.office]\npasswd = 1234\n`, 2, "hosts.office.passwd", /non-empty string/);
  });

  it("session name with a space or a colon", () => {
    assertFails(`[options]\n[hosts."a b"]\npasswd = "pw"\n`, 2, "hosts.a b", /no spaces or colons/);
    assertFails(`[hosts."a:b"]\npasswd = "pw"\n`, 1, "hosts.a:b", /no spaces or colons/);
  });

  it("session name longer than 42 characters", () => {
    const name = "a".repeat(43);
    assertFails(`[hosts.${name}]\npasswd = "pw"\n`, 1, `hosts.${name}`, /1 to 42/);
  });

  it("encrypt = \"aes128cbc\" is refused, never run unencrypted", () => {
    assertFails(`${HOST}encrypt = "aes128cbc"\n`, 3, "hosts.office.encrypt", /"aes128cbc" is not supported/);
    assertFails(`${HOST}encrypt = "yes"\n`, 3, "hosts.office.encrypt", /not supported/);
    assertFails(`${HOST}encrypt = true\n`, 3, "hosts.office.encrypt", /not supported/);
  });

  it("encrypt in [default] is refused too", () => {
    assertFails(`[default]\nencrypt = "blowfish128ecb"\n${HOST}`, 2, "default.encrypt", /not supported/);
  });

  it("compress = \"zlib:9\" is refused", () => {
    assertFails(`${HOST}compress = "zlib:9"\n`, 3, "hosts.office.compress", /not supported/);
  });

  it("type = \"ether\" is not supported yet; an unknown type is wrong", () => {
    assertFails(`${HOST}type = "ether"\n`, 3, "hosts.office.type", /"ether" is not supported .*only "tun"/);
    assertFails(`${HOST}type = "slip"\n`, 3, "hosts.office.type", /got "slip"/);
  });

  it("vtund options like ppp in [options] or a host are refused", () => {
    assertFails(`[options]\nppp = "/usr/sbin/pppd"\n`, 2, "options.ppp", /not supported/);
    assertFails(`${HOST}ppp = "noauth"\n`, 3, "hosts.office.ppp", /unknown key/);
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
    assert.deepEqual(loadConfig(path).options, { port: 5000, bindaddr: "0.0.0.0", timeout: 30 });
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

  it("a missing file → ConfigError with the path and ENOENT", () => {
    const path = join(dir, "nonexistent.toml");
    assert.throws(() => loadTomlConfig(path), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, /ENOENT/);
      return true;
    });
  });

  it("a classic vtund.conf file is not supported yet", () => {
    assert.throws(() => loadConfig("x.conf"), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith("x.conf: "), e.message);
      assert.match(e.message, /vtund\.conf files are not supported/);
      return true;
    });
  });
});
