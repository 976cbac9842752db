/**
 * End-to-end test harness: private network namespaces joined by a veth pair,
 * and daemons (vtunts or the real vtund) running inside them. All traffic
 * stays between the two namespaces. Everything a test creates is removed when
 * it ends — also when it fails, and at process exit as a last resort.
 *
 *     ns "<tag>a"  [10.201.0.1/24] <== veth ==> [10.201.0.2/24]  ns "<tag>b"
 *     tunnel: 10.202.0.1 (a, server)  <->  10.202.0.2 (b, client)
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, "../..");
/** A runtime the vtunts daemon can run on. */
export type DaemonRuntime = "bun" | "deno" | "node";

function daemonRuntime(value: string | undefined): DaemonRuntime {
  if (value === undefined || value === "" || value === "bun" || value === "deno" || value === "node") return (value || "bun") as DaemonRuntime;
  throw new Error(`VTUNTS_RUNTIME must be bun, deno or node, not "${value}"`);
}

/**
 * The runtime of the daemons under test (env VTUNTS_RUNTIME, default bun):
 * bun runs the built binary, deno and node run the sources through scripts/run.
 */
export const DAEMON_RUNTIME: DaemonRuntime = daemonRuntime(process.env.VTUNTS_RUNTIME);

/** The vtunts executable for `runtime`: dist/vtunts (or VTUNTS_BIN) for bun, else test/e2e/bin/vtunts-<runtime>. */
export function vtuntsFor(runtime: DaemonRuntime = DAEMON_RUNTIME): string {
  if (runtime === "bun") return process.env.VTUNTS_BIN ?? join(ROOT, "dist/vtunts");
  return join(ROOT, `test/e2e/bin/vtunts-${runtime}`);
}

/** The vtunts executable under test (scripts/build makes dist/vtunts; see {@link DAEMON_RUNTIME}). */
export const VTUNTS = vtuntsFor();

export const SERVER_IP = "10.201.0.1";
export const CLIENT_IP = "10.201.0.2";
export const TUN_SERVER = "10.202.0.1";
export const TUN_CLIENT = "10.202.0.2";

/** Fails (never skips) when the machine cannot run end-to-end tests. */
export function requireE2E(opts: { vtund?: boolean } = {}): void {
  if (process.getuid?.() !== 0) throw new Error("end-to-end tests need root (network namespaces, TUN devices)");
  if (!existsSync("/dev/net/tun")) throw new Error("end-to-end tests need /dev/net/tun");
  if (!existsSync(VTUNTS)) throw new Error(`${VTUNTS} is missing: run scripts/build first (scripts/test does)`);
  if (opts.vtund && !existsSync("/usr/sbin/vtund")) {
    throw new Error("the real vtund is not installed (apt-get install vtun; scripts/test does)");
  }
}

const liveNamespaces = new Set<string>();
const liveProcesses = new Set<ChildProcess>();
const liveDirs = new Set<string>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the whole group: ip netns exec + the daemon
  } catch {
    // already gone
  }
}

/** Last-resort cleanup if a test process exits without running its finally blocks. */
process.on("exit", () => {
  for (const child of liveProcesses) killGroup(child, "SIGKILL");
  for (const ns of liveNamespaces) {
    try {
      for (const pid of execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean)) {
        process.kill(Number(pid), "SIGKILL");
      }
    } catch {
      // namespace already gone
    }
    try {
      execFileSync("ip", ["netns", "del", ns]);
    } catch {
      // already deleted
    }
  }
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/** A command's result. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** One network namespace. */
export class Host {
  constructor(readonly ns: string, readonly ip: string) {}

  /** Runs a command in this namespace and waits for it. Never throws for a non-zero exit. */
  async exec(argv: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
    try {
      const { stdout, stderr } = await run("ip", ["netns", "exec", this.ns, ...argv], {
        timeout: opts.timeoutMs ?? 30_000,
        env: opts.env ?? process.env,
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
      return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? String(e) };
    }
  }

  /** Starts a long-running process in this namespace (its own process group). */
  start(label: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Daemon {
    return new Daemon(label, spawn("ip", ["netns", "exec", this.ns, ...argv], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env,
    }));
  }

  /** Names of the TUN/TAP interfaces in this namespace. */
  async tunDevices(): Promise<string[]> {
    const r = await run("ip", ["-n", this.ns, "-o", "link", "show", "type", "tun"]);
    return r.stdout.split("\n").filter(Boolean).map((l) => l.split(": ")[1]!.split("@")[0]!);
  }

  /** Pings `target` with a payload pattern; returns how many replies came back intact. */
  async ping(target: string, count = 3, size = 1000): Promise<{ received: number; output: string }> {
    // ping checks every reply's payload against the pattern and reports "wrong data byte" on mismatch.
    const r = await this.exec(["ping", "-c", String(count), "-i", "0.2", "-W", "2", "-s", String(size), "-p", "56544e5f54455354", target]);
    const m = /(\d+) received/.exec(r.stdout);
    const corrupt = /wrong data|corrupted/i.test(r.stdout + r.stderr);
    return { received: m && !corrupt ? Number(m[1]) : 0, output: r.stdout + r.stderr };
  }
}

/** A process started by {@link Host.start}, with its output collected. */
export class Daemon {
  output = "";
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(readonly label: string, readonly child: ChildProcess) {
    liveProcesses.add(child);
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const w of this.waiters) w();
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        liveProcesses.delete(child);
        resolve(code ?? (signal ? -1 : null));
        for (const w of this.waiters) w();
      });
    });
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the output matches `pattern`; rejects after `timeoutMs` with the output so far. */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.match(pattern);
        if (m) {
          cleanup();
          resolve(m);
        } else if (!this.running) {
          cleanup();
          reject(new Error(`${this.label} exited (${this.child.exitCode}) before printing ${pattern}:\n${this.output}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  /** Resolves with the exit code, or rejects if it does not exit within `timeoutMs`. */
  async waitExit(timeoutMs = 10_000): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} still running after ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` to the daemon (not to the `ip netns exec` wrapper only: the whole group). */
  signal(signal: NodeJS.Signals): void {
    killGroup(this.child, signal);
  }

  /** Stops it (SIGTERM, then SIGKILL after a grace period). */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

let counter = 0;

/** Two namespaces joined by a veth pair, plus a scratch directory. */
export class NetnsPair {
  readonly server: Host;
  readonly client: Host;
  readonly dir: string;
  private readonly daemons: Daemon[] = [];

  private constructor(readonly tag: string) {
    this.server = new Host(`${tag}a`, SERVER_IP);
    this.client = new Host(`${tag}b`, CLIENT_IP);
    this.dir = mkdtempSync(join(tmpdir(), `${tag}-`));
    liveDirs.add(this.dir);
  }

  /** Creates the namespaces. `ipv6: false` disables IPv6 in both (needed with the real vtund, see README). */
  static async create(opts: { ipv6?: boolean } = {}): Promise<NetnsPair> {
    const tag = `vte${process.pid % 100000}x${counter++}`;
    const pair = new NetnsPair(tag);
    const a = pair.server.ns;
    const b = pair.client.ns;
    const ip = (...args: string[]) => run("ip", args);
    try {
      await ip("netns", "add", a);
      liveNamespaces.add(a);
      await ip("netns", "add", b);
      liveNamespaces.add(b);
      // Create the veth inside namespace a, so no device ever exists in the root namespace.
      await ip("-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b);
      await ip("-n", a, "addr", "add", `${SERVER_IP}/24`, "dev", "veth0");
      await ip("-n", b, "addr", "add", `${CLIENT_IP}/24`, "dev", "veth0");
      for (const ns of [a, b]) {
        if (opts.ipv6 === false) {
          await run("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
        }
        await ip("-n", ns, "link", "set", "lo", "up");
        await ip("-n", ns, "link", "set", "veth0", "up");
      }
    } catch (e) {
      await pair.destroy();
      throw e;
    }
    return pair;
  }

  /** Writes a file into the scratch directory and returns its path. */
  file(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts a daemon and remembers it for cleanup. */
  start(host: Host, label: string, argv: string[], env?: NodeJS.ProcessEnv): Daemon {
    const d = host.start(label, argv, env);
    this.daemons.push(d);
    return d;
  }

  /** Output of every daemon, for assertion messages. */
  logs(): string {
    return this.daemons.map((d) => `--- ${d.label}\n${d.output}`).join("\n");
  }

  /** Stops every process and removes the namespaces and the scratch directory. */
  async destroy(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.stop(2000)));
    for (const host of [this.server, this.client]) {
      try {
        const { stdout } = await run("ip", ["netns", "pids", host.ns]);
        for (const pid of stdout.split(/\s+/).filter(Boolean)) process.kill(Number(pid), "SIGKILL");
      } catch {
        // namespace missing
      }
      try {
        await run("ip", ["netns", "del", host.ns]);
      } catch {
        // already gone
      }
      liveNamespaces.delete(host.ns);
    }
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

/** Runs `body` with a fresh namespace pair that is destroyed afterwards, whatever happens. */
export async function withNetns<T>(opts: { ipv6?: boolean }, body: (pair: NetnsPair) => Promise<T>): Promise<T> {
  const pair = await NetnsPair.create(opts);
  try {
    return await body(pair);
  } catch (e) {
    // Attach the daemons' output: it is what explains a failure.
    (e as Error).message += `\n${pair.logs()}`;
    throw e;
  } finally {
    await pair.destroy();
  }
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the last result. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
