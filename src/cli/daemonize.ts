/**
 * Running in the background without `-n`, as vtund does. Bun, Deno and Node cannot
 * fork(), so vtunts starts a detached copy of itself under the same runtime and
 * flags (see selfCommand): new session, cwd /, stdio on /dev/null. It waits
 * until that copy reports on a pipe that it is ready — listening, for a
 * server — or why it failed. So the exit code of
 * `vtunts -s` still tells a script whether the daemon came up.
 */
import { spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { selfCommand } from "../runtime/process.ts";

/** Set in the environment of the background copy. */
export const DAEMON_ENV = "VTUNTS_DAEMON";
/** The fd on which the background copy reports. */
const REPORT_FD = 3;
/** How long the parent waits for the report. */
const REPORT_TIMEOUT_MS = 15_000;

/** True in the background copy. */
export function isDaemonChild(): boolean {
  return process.env[DAEMON_ENV] === "1";
}

/**
 * Starts the background copy with `argv` (plus `-f` made absolute, since it
 * runs in /) and resolves with the exit code for this foreground process.
 */
export function daemonize(argv: string[], configPath: string): Promise<number> {
  const [command, ...prefix] = selfCommand();
  const child = spawn(command!, [...prefix, ...argv, "-f", resolve(configPath)], {
    cwd: "/",
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "pipe"],
    env: { ...process.env, [DAEMON_ENV]: "1" },
  });
  const pipe = child.stdio[REPORT_FD]!;
  return new Promise((done) => {
    let report = "";
    const finish = (code: number, message?: string) => {
      clearTimeout(timer);
      if (message) process.stderr.write(`${message}\n`);
      pipe.destroy();
      child.unref();
      done(code);
    };
    const timer = setTimeout(
      () => finish(0, `vtunts: started in the background (pid ${child.pid}), but it did not report within ${REPORT_TIMEOUT_MS / 1000} s; see syslog`),
      REPORT_TIMEOUT_MS,
    );
    pipe.on("data", (chunk: Buffer) => {
      report += chunk.toString();
      if (report.startsWith("ready\n")) finish(0);
    });
    child.on("exit", (code) => {
      if (report.startsWith("ready\n")) return;
      const message = report.startsWith("error ") ? report.slice(6).trim() : `vtunts: the background process exited with code ${code}`;
      finish(code ?? 1, message);
    });
  });
}

function tell(text: string): void {
  try {
    writeSync(REPORT_FD, text);
    closeSync(REPORT_FD);
  } catch {
    // The parent is gone; nobody is waiting for the report.
  }
}

/** In the background copy: tells the waiting parent that start-up worked. */
export function reportReady(): void {
  if (isDaemonChild()) tell("ready\n");
}

/** In the background copy: tells the waiting parent why start-up failed. */
export function reportFailure(message: string): void {
  if (isDaemonChild()) tell(`error ${message}\n`);
}
