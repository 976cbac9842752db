/**
 * The vtunts executable as a user and a script see it: --help, --version,
 * one-line errors with the documented exit codes, running in the background
 * (no -n), and the arm64 build under qemu.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAEMON_RUNTIME, eventually, requireE2E, ROOT, SERVER_IP, VTUNTS, withNetns, type Result } from "./harness.ts";
import { startServer } from "./tunnels.ts";

function vtunts(args: string[], opts: { prefix?: string[]; timeoutMs?: number } = {}): Promise<Result> {
  const [cmd, ...rest] = [...(opts.prefix ?? []), VTUNTS, ...args];
  return new Promise((resolve) => {
    execFile(cmd!, rest, { timeout: opts.timeoutMs ?? 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "vtunts-cli-"));
  return body(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const GOOD = `[hosts.office]\npasswd = "pw"\n`;

describe("vtunts command line", () => {
  it("--version and --help answer on stdout with exit 0", async () => {
    requireE2E();
    const v = await vtunts(["--version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, new RegExp(`^vtunts \\d+\\.\\d+\\.\\d+ \\(vtund 3\\.0\\.x protocol; ${DAEMON_RUNTIME} \\d`));
    const h = await vtunts(["--help"]);
    assert.equal(h.code, 0);
    for (const flag of ["-s", "-f FILE", "-P PORT", "-L ADDR", "-p", "-t SECS", "-n", "Exit codes"]) assert.ok(h.stdout.includes(flag), flag);
  });

  it("usage errors: one line, a hint, exit 1", async () => {
    requireE2E();
    for (const args of [["-x"], ["-s", "extra"], ["only-session"], ["-P", "0", "a", "b"], ["-L", "1.2.3.4", "a", "b"]]) {
      const r = await vtunts(args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, /^vtunts: .+\nTry 'vtunts --help'\.\n$/, args.join(" "));
    }
  });

  it("configuration errors name the file and line, exit 1", async () => {
    requireE2E();
    await withTempDir(async (dir) => {
      const bad = join(dir, "bad.toml");
      writeFileSync(bad, `[options]\nport = 5000\n\n[hosts.office]\npasswd = "pw"\nproto = "sctp"\n`);
      const r = await vtunts(["-s", "-n", "-f", bad]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `vtunts: ${bad}:6: hosts.office.proto: must be "tcp" or "udp", got "sctp"\n`);
      const missing = await vtunts(["-s", "-n", "-f", join(dir, "none.toml")]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /none\.toml: cannot read the configuration file: ENOENT/);
      const good = join(dir, "good.toml");
      writeFileSync(good, GOOD);
      const unknown = await vtunts(["-n", "-f", good, "home", "10.0.0.1"]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, new RegExp(`Host home not found in ${good}`));
    });
  });

  it("a tcp_congestion this kernel lacks: refused before listening or connecting, exit 1", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const conf = pair.file("cc.toml", `${GOOD}tcp_congestion = "vtunts_nosuch"\n[hosts.home]\npasswd = "pw"\n`);
      const expected = new RegExp(`^vtunts: ${conf.replaceAll(".", "\\.")}: hosts\\.office\\.tcp_congestion: tcp_congestion "vtunts_nosuch": ENOENT \\(no such algorithm in this kernel; available: [a-z0-9_ ]*\\breno\\b[a-z0-9_ ]*\\)\n$`);
      for (const args of [["-s", "-n"], ["-s"], ["-n", "-f", conf, "office", SERVER_IP]]) {
        const r = await pair.server.exec([VTUNTS, ...args, ...(args.includes("-f") ? [] : ["-f", conf])]);
        assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, expected, args.join(" "));
      }
      const listening = await pair.server.exec(["ss", "-Htln"]);
      assert.equal(listening.stdout.trim(), "", "nothing listens");
      // A client runs one session: another session's setting does not stop it.
      const other = await pair.client.exec([VTUNTS, "-n", "-f", conf, "home", SERVER_IP], { timeoutMs: 20_000 });
      assert.equal(other.code, 2, `it went on to connect (refused: nothing listens): ${other.stderr}`);
      assert.doesNotMatch(other.stderr, /tcp_congestion/);
    });
  });

  it("without CAP_NET_ADMIN it refuses to start, exit 4", async () => {
    requireE2E();
    await withTempDir(async (dir) => {
      const conf = join(dir, "c.toml");
      writeFileSync(conf, GOOD);
      chmodSync(dir, 0o755); // readable for the unprivileged user
      chmodSync(conf, 0o644);
      const r = await vtunts(["-n", "-f", conf, "office", "127.0.0.1"], {
        prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"],
      });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /needs CAP_NET_ADMIN/);
    });
  });

  it("a server whose port is taken says so, exit 4 (foreground and background)", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      await startServer(pair, "vtunts", { proto: "tcp" });
      const conf = pair.file("second.toml", GOOD);
      const fg = await pair.server.exec([VTUNTS, "-s", "-n", "-f", conf]);
      assert.equal(fg.code, 4);
      assert.match(fg.stderr, /cannot listen on 0\.0\.0\.0:5000: EADDRINUSE \(the port is already in use\)/);
      const bg = await pair.server.exec([VTUNTS, "-s", "-f", conf]);
      assert.equal(bg.code, 4);
      assert.match(bg.stderr, /EADDRINUSE/);
    });
  });

  it("without -n it runs in the background and returns 0 once listening", async () => {
    requireE2E();
    await withNetns({}, async (pair) => {
      const conf = pair.file("bg.toml", GOOD);
      const r = await pair.server.exec([VTUNTS, "-s", "-P", "5123", "-f", conf], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
      const listening = async () => (await pair.server.exec(["ss", "-Htlnp", "sport = :5123"])).stdout.includes("vtunts");
      assert.ok(await listening(), "the background server listens when the foreground one returns");
      // It is detached: its own session, not a child of the command we ran.
      // (Node runs the sources through tsx, whose esbuild helper processes are the daemon's children: not counted.)
      const pids = await new Promise<string[]>((resolve) =>
        execFile("ip", ["netns", "pids", pair.server.ns], (_e, out) => resolve(out.split(/\s+/).filter(Boolean))));
      const comm = (pid: string) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        } catch {
          return "(gone)";
        }
      };
      const daemons = pids.filter((pid) => comm(pid) === "vtunts");
      assert.equal(daemons.length, 1, `processes in the namespace: ${pids.join(" ")}`);
      process.kill(Number(daemons[0]), "SIGTERM");
      assert.ok(await eventually(async () => !(await listening()), 5000), "SIGTERM stops it");
    });
  });

  it("the arm64 build runs --version under qemu", async () => {
    requireE2E();
    const arm = join(ROOT, "dist/vtunts-linux-arm64");
    if (!existsSync(arm)) throw new Error(`${arm} is missing: scripts/build --target linux-arm64 (scripts/test does)`);
    if (!existsSync("/usr/bin/qemu-aarch64-static")) throw new Error("qemu-user-static is not installed (scripts/test installs it)");
    const r = await new Promise<Result>((resolve) => {
      execFile("/usr/bin/qemu-aarch64-static", ["-L", "/usr/aarch64-linux-gnu", arm, "--version"], { timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? -1 : 0, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^vtunts \d+\.\d+\.\d+ .*bun/);
    const file = await new Promise<string>((resolve) => execFile("file", ["-b", arm], (_e, out) => resolve(out)));
    assert.match(file, /ARM aarch64/);
  });
});
