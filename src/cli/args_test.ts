/**
 * The command line: server and client forms with vtund's flags, the defaults,
 * number validation of -P and -t, --log-level, --help/--version, grouped
 * short flags, and the mistakes that must be a UsageError.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HELP, parseCommandLine, UsageError, type Command } from "./args.ts";

/** Expects `argv` to be refused with a UsageError whose message matches `pattern`. */
function refused(argv: string[], pattern: RegExp): void {
  assert.throws(
    () => parseCommandLine(argv),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.doesNotMatch(e.message, /\n/, "the message is one line");
      return true;
    },
  );
}

function server(argv: string[]): Extract<Command, { kind: "server" }> {
  const c = parseCommandLine(argv);
  assert.equal(c.kind, "server");
  if (c.kind !== "server") throw new Error("unreachable");
  return c;
}

function client(argv: string[]): Extract<Command, { kind: "client" }> {
  const c = parseCommandLine(argv);
  assert.equal(c.kind, "client");
  if (c.kind !== "client") throw new Error("unreachable");
  return c;
}

describe("parseCommandLine: server", () => {
  it("-s alone: every default", () => {
    assert.deepEqual(parseCommandLine(["-s"]), {
      kind: "server",
      common: { configPath: "/etc/vtunts.toml", port: undefined, timeout: undefined, foreground: false, logLevel: "info", quiet: false, mlock: false, family: undefined },
      bindaddr: undefined,
      inetd: false,
    });
  });

  it("all server flags", () => {
    assert.deepEqual(parseCommandLine(["-s", "-f", "/tmp/v.toml", "-P", "6000", "-L", "10.0.0.1", "-t", "15", "-n", "--log-level", "debug"]), {
      kind: "server",
      common: { configPath: "/tmp/v.toml", port: 6000, timeout: 15, foreground: true, logLevel: "debug", quiet: false, mlock: false, family: undefined },
      bindaddr: "10.0.0.1",
      inetd: false,
    });
  });

  it("grouped short flags: -sn", () => {
    const c = server(["-sn"]);
    assert.equal(c.common.foreground, true);
  });

  it("grouped short flags ending in one with a value: -snf FILE", () => {
    const c = server(["-snf", "/x.toml"]);
    assert.equal(c.common.foreground, true);
    assert.equal(c.common.configPath, "/x.toml");
  });

  it("--log-level=warn and port bounds 1 and 65535", () => {
    assert.equal(server(["-s", "--log-level=warn"]).common.logLevel, "warn");
    assert.equal(server(["-s", "-P", "1"]).common.port, 1);
    assert.equal(server(["-s", "-P", "65535"]).common.port, 65535);
    assert.equal(server(["-s", "-t", "86400"]).common.timeout, 86400);
  });

  it("-p is a client option", () => {
    refused(["-s", "-p"], /-p .*client option/);
  });

  it("server takes no positionals", () => {
    refused(["-s", "office"], /server mode takes no SESSION or SERVER/);
  });
});

describe("parseCommandLine: client", () => {
  it("SESSION SERVER with every default", () => {
    assert.deepEqual(parseCommandLine(["office", "vpn.example.org"]), {
      kind: "client",
      common: { configPath: "/etc/vtunts.toml", port: undefined, timeout: undefined, foreground: false, logLevel: "info", quiet: false, mlock: false, family: undefined },
      session: "office",
      server: "vpn.example.org",
      persist: false,
    });
  });

  it("all client flags, options after positionals too", () => {
    assert.deepEqual(parseCommandLine(["-f", "c.toml", "-p", "office", "10.0.0.1", "-P", "5001", "-t", "5", "-n", "--log-level", "error"]), {
      kind: "client",
      common: { configPath: "c.toml", port: 5001, timeout: 5, foreground: true, logLevel: "error", quiet: false, mlock: false, family: undefined },
      session: "office",
      server: "10.0.0.1",
      persist: true,
    });
  });

  it("grouped -np", () => {
    const c = client(["-np", "office", "srv"]);
    assert.equal(c.common.foreground, true);
    assert.equal(c.persist, true);
  });

  it("0, 1 or 3 positionals are refused", () => {
    refused([], /needs SESSION and SERVER/);
    refused(["office"], /needs SESSION and SERVER/);
    refused(["office", "srv", "extra"], /too many arguments: "office srv extra"/);
  });

  it("-L without -s", () => {
    refused(["-L", "0.0.0.0", "office", "srv"], /-L .*server option/);
  });
});

describe("parseCommandLine: vtund's -i -q -m -4 -6", () => {
  it("-i is inetd mode and implies a server", () => {
    const c = server(["-i", "-f", "/x.conf"]);
    assert.equal(c.inetd, true);
    assert.equal(server(["-s"]).inetd, false);
  });
  it("-q, -m and -6 on a client", () => {
    const c = client(["-q", "-m", "-6", "office", "srv"]);
    assert.equal(c.common.quiet, true);
    assert.equal(c.common.mlock, true);
    assert.equal(c.common.family, "ipv6");
    assert.equal(client(["-4", "office", "srv"]).common.family, "ipv4");
  });
  it("-4 with -6 is refused", () => {
    refused(["-4", "-6", "office", "srv"], /-4 and -6/);
  });
});

describe("parseCommandLine: numbers", () => {
  for (const flag of ["-P", "-t"]) {
    for (const bad of ["abc", "0", "12x", "1.5", "", "-5"]) {
      it(`${flag} ${JSON.stringify(bad)} is refused`, () => {
        assert.throws(() => parseCommandLine(["-s", flag, bad]), UsageError);
      });
    }
  }

  it("-P 70000 names the flag and the range", () => {
    refused(["-s", "-P", "70000"], /^-P: expected a number from 1 to 65535, got "70000"$/);
  });

  it("-P 0 names the flag and the range", () => {
    refused(["-s", "-P", "0"], /^-P: .*got "0"$/);
  });

  it("-t 0 and -t 86401", () => {
    refused(["-s", "-t", "0"], /^-t: expected a number from 1 to 86400, got "0"$/);
    refused(["-s", "-t", "86401"], /^-t: .*got "86401"$/);
  });

  it("-P without its value", () => {
    refused(["-s", "-P"], /-P/);
  });
});

describe("parseCommandLine: flags", () => {
  it("unknown flags", () => {
    refused(["-s", "--bogus"], /--bogus/);
    refused(["-x", "office", "srv"], /-x/);
  });

  it("UsageError messages do not start with TypeError", () => {
    try {
      parseCommandLine(["--bogus"]);
      assert.fail("accepted --bogus");
    } catch (e) {
      assert.ok(e instanceof UsageError);
      assert.doesNotMatch(e.message, /^TypeError/);
      assert.equal(e.name, "UsageError");
    }
  });

  it("--log-level with a bad level", () => {
    refused(["-s", "--log-level", "verbose"], /--log-level: expected error, warn, info or debug, got "verbose"/);
    refused(["-s", "--log-level", "INFO"], /--log-level/);
    refused(["-s", "--log-level", "constructor"], /--log-level/);
    refused(["-s", "--log-level", "toString"], /--log-level/);
  });

  it("each level is accepted", () => {
    for (const level of ["error", "warn", "info", "debug"] as const) {
      assert.equal(server(["-s", "--log-level", level]).common.logLevel, level);
    }
  });

  it("--help and -h", () => {
    assert.deepEqual(parseCommandLine(["--help"]), { kind: "help" });
    assert.deepEqual(parseCommandLine(["-h"]), { kind: "help" });
    assert.deepEqual(parseCommandLine(["-s", "-h"]), { kind: "help" });
    assert.deepEqual(parseCommandLine(["office", "--help"]), { kind: "help" });
  });

  it("--version and -v", () => {
    assert.deepEqual(parseCommandLine(["--version"]), { kind: "version" });
    assert.deepEqual(parseCommandLine(["-v"]), { kind: "version" });
  });

  it("the help text documents every flag and the default config path", () => {
    for (const flag of ["-s", "-f FILE", "-P PORT", "-L ADDR", "-p", "-t SECS", "-n", "--log-level", "--help", "--version"]) {
      assert.ok(HELP.includes(flag), `help lacks ${flag}`);
    }
    assert.ok(HELP.includes("/etc/vtunts.toml"));
  });
});
