/**
 * `up`/`down` commands: vtund's `%` substitution (%d and %% = device, %A %P
 * local, %a %p remote, %h session, any other %X = X, a lone trailing % dropped),
 * and runCommands through /bin/sh: results in order, failures logged with the
 * exit code and output, and the next command still run.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../log.ts";
import { commandArgv, runCommands, runShell, splitArgs, substitute } from "./commands.ts";
import type { Command } from "../config/config.ts";

const sh = (args: string): Command => ({ program: null, args, wait: true, delayAfter: 0 });
import type { LinkInfo } from "./session.ts";

const INFO: LinkInfo = {
  session: "office",
  device: "tun7",
  local: { family: 4, address: "10.201.0.1", port: 5000 },
  remote: { family: 4, address: "10.201.0.2", port: 41234 },
};

describe("substitute", () => {
  it("%d is the device", () => {
    assert.equal(substitute("ip link set %d up", INFO), "ip link set tun7 up");
  });

  it("%% is the device too (vtund), not a literal %", () => {
    assert.equal(substitute("ip addr add 10.3.0.1/30 dev %%", INFO), "ip addr add 10.3.0.1/30 dev tun7");
    assert.equal(substitute("100%%", INFO), "100tun7");
  });

  it("%A %P local, %a %p remote, %h session", () => {
    assert.equal(substitute("%A", INFO), "10.201.0.1");
    assert.equal(substitute("%P", INFO), "5000");
    assert.equal(substitute("%a", INFO), "10.201.0.2");
    assert.equal(substitute("%p", INFO), "41234");
    assert.equal(substitute("%h", INFO), "office");
  });

  it("addresses of a dual-stack server's IPv4 peer come out as IPv4", () => {
    const mapped: LinkInfo = {
      ...INFO,
      local: { family: 6, address: "::ffff:10.201.0.1", port: 5000 },
      remote: { family: 6, address: "::ffff:10.201.0.2", port: 41234 },
    };
    assert.equal(substitute("route add %a via %A", mapped), "route add 10.201.0.2 via 10.201.0.1");
  });

  it("all escapes in one command", () => {
    assert.equal(substitute("log %h: %A:%P <-> %a:%p on %d", INFO), "log office: 10.201.0.1:5000 <-> 10.201.0.2:41234 on tun7");
  });

  it("unknown %X becomes X", () => {
    assert.equal(substitute("%x%D%1%-", INFO), "xD1-");
    assert.equal(substitute("date +%s", INFO), "date +s");
  });

  it("a lone trailing % is dropped", () => {
    assert.equal(substitute("echo 50%", INFO), "echo 50");
    assert.equal(substitute("%", INFO), "");
  });

  it("%%%d: one device per escape, left to right", () => {
    assert.equal(substitute("%%%d", INFO), "tun7tun7");
    assert.equal(substitute("%%%", INFO), "tun7");
  });

  it("substituted text is not substituted again", () => {
    const info: LinkInfo = { ...INFO, session: "%d" };
    assert.equal(substitute("%h", info), "%d");
  });

  it("% before a newline keeps the newline", () => {
    assert.equal(substitute("a%\nb", INFO), "a\nb");
  });

  it("text without % is unchanged", () => {
    assert.equal(substitute("ip route add 10.0.0.0/8 dev tun7", INFO), "ip route add 10.0.0.0/8 dev tun7");
  });

  it("IPv6 endpoints are substituted as text", () => {
    const info: LinkInfo = { ...INFO, remote: { family: 6, address: "fe80::2", port: 1 } };
    assert.equal(substitute("%a/%p", info), "fe80::2/1");
  });
});

describe("runShell", () => {
  it("reports the exit code and output", async () => {
    assert.deepEqual(await runShell("true"), { command: "true", code: 0, output: "" });
    assert.deepEqual(await runShell("echo hi; exit 7"), { command: "echo hi; exit 7", code: 7, output: "hi" });
  });

  it("a command killed by a signal has code null", async () => {
    const r = await runShell("kill -TERM $$");
    assert.equal(r.code, null);
  });
});

describe("runCommands", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vtunts-commands-test-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs every command in order, after substitution", async () => {
    const out = join(dir, "order");
    const { log, lines } = memoryLogger("debug");
    const results = await runCommands("up", [sh(`echo 1 %d >> ${out}`), sh(`echo 2 %h >> ${out}`)], INFO, log);
    assert.deepEqual(results.map((r) => r.code), [0, 0]);
    assert.equal(readFileSync(out, "utf8"), "1 tun7\n2 office\n");
    assert.deepEqual(lines, [`debug up: echo 1 tun7 >> ${out}`, `debug up: echo 2 office >> ${out}`].map((l) => `vtunts[${process.pid}]: ${l}`));
  });

  it("a failing command is logged with its exit code and the next one still runs", async () => {
    const out = join(dir, "after-failure");
    const { log, lines } = memoryLogger("info");
    const results = await runCommands("down", ["true", "exit 3", "echo x >&2; exit 2", `echo ran > ${out}`].map(sh), INFO, log);
    assert.deepEqual(
      results.map((r) => [r.command, r.code]),
      [
        ["true", 0],
        ["exit 3", 3],
        ["echo x >&2; exit 2", 2],
        [`echo ran > ${out}`, 0],
      ],
    );
    assert.equal(readFileSync(out, "utf8"), "ran\n");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0]!, /warn down command failed: "exit 3" exited with code 3$/);
    assert.match(lines[1]!, /warn down command failed: "echo x >&2; exit 2" exited with code 2: x$/);
  });

  it("the logged command is the substituted one", async () => {
    const { log, lines } = memoryLogger("warn");
    await runCommands("up", [sh("exit 4 # %d")], INFO, log);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /up command failed: "exit 4 # tun7" exited with code 4/);
  });

  it("no commands: nothing runs, nothing logged", async () => {
    const { log, lines } = memoryLogger("debug");
    assert.deepEqual(await runCommands("up", [], INFO, log), []);
    assert.deepEqual(lines, []);
  });
});

describe("splitArgs (vtund's argument rules)", () => {
  it("spaces separate words; runs of spaces are one separator", () => {
    assert.deepEqual(splitArgs("addr add  10.0.0.1/30 dev tun0"), ["addr", "add", "10.0.0.1/30", "dev", "tun0"]);
    assert.deepEqual(splitArgs("  "), []);
  });
  it("single quotes group words and are removed", () => {
    assert.deepEqual(splitArgs("-c 'echo a b' x"), ["-c", "echo a b", "x"]);
    assert.deepEqual(splitArgs("''"), [""]);
  });
  it("a backslash takes the next character literally", () => {
    assert.deepEqual(splitArgs("a\\ b c\\'d"), ["a b", "c'd"]);
  });
});

describe("commandArgv", () => {
  it("a program runs with split, substituted arguments; no program means /bin/sh -c", () => {
    assert.deepEqual(commandArgv({ program: "/sbin/ip", args: "link set %d up", wait: true, delayAfter: 0 }, INFO), [
      "/sbin/ip", "link", "set", "tun7", "up",
    ]);
    assert.deepEqual(commandArgv(sh("ip link set %d up"), INFO), ["/bin/sh", "-c", "ip link set tun7 up"]);
  });
});

describe("runCommands: program form, wait and stdio", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vtunts-commands-test-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a program by path with argv (no shell)", async () => {
    const out = join(dir, "argv");
    const { log } = memoryLogger("warn");
    const r = await runCommands("up", [{ program: "/bin/sh", args: `-c 'echo \\$0 \\$1 > ${out}' %d 'a b'`, wait: true, delayAfter: 0 }], INFO, log);
    assert.equal(r[0]!.code, 0);
    assert.equal(readFileSync(out, "utf8"), "tun7 a b\n");
  });

  it("a command without wait does not hold up the next one", async () => {
    const out = join(dir, "nowait");
    const { log } = memoryLogger("warn");
    const started = performance.now();
    const r = await runCommands("up", [
      { program: null, args: `sleep 1; echo slow >> ${out}`, wait: false, delayAfter: 0 },
      sh(`echo fast >> ${out}`),
    ], INFO, log);
    assert.ok(performance.now() - started < 900, "the second command waited for the first");
    assert.equal(r[0]!.code, undefined);
    assert.equal(readFileSync(out, "utf8"), "fast\n");
    await new Promise((res) => setTimeout(res, 1300));
    assert.equal(readFileSync(out, "utf8"), "fast\nslow\n");
  });

  it("delayAfter pauses before the next command", async () => {
    const { log } = memoryLogger("warn");
    const started = performance.now();
    await runCommands("up", [{ program: null, args: "true", wait: false, delayAfter: 0.3 }, sh("true")], INFO, log);
    assert.ok(performance.now() - started >= 290);
  });

  it("with a stdio fd the command reads and writes that fd", async () => {
    const { openSync, closeSync } = await import("node:fs");
    const path = join(dir, "stdio");
    const fd = openSync(path, "w+");
    try {
      const { log } = memoryLogger("warn");
      await runCommands("up", [sh("echo through-fd")], INFO, log, fd);
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(path, "utf8"), "through-fd\n");
  });
});
