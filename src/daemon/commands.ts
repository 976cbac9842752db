/**
 * `up` and `down` commands: `%` substitution as vtund does it, then each
 * command runs through `/bin/sh -c`, one after the other.
 */
import { spawn } from "node:child_process";
import type { Logger } from "../log.ts";
import { plainAddress } from "../transport/address.ts";
import type { LinkInfo } from "./session.ts";

/**
 * Replaces `%d` and `%%` (device), `%A`/`%P` (local address/port), `%a`/`%p`
 * (remote address/port) and `%h` (session name). Any other `%X` becomes `X`, as in vtund.
 */
export function substitute(command: string, info: LinkInfo): string {
  return command.replace(/%(.?)/gs, (_m, c: string) => {
    switch (c) {
      case "d":
      case "%":
        return info.device;
      case "A":
        return plainAddress(info.local);
      case "P":
        return String(info.local.port);
      case "a":
        return plainAddress(info.remote);
      case "p":
        return String(info.remote.port);
      case "h":
        return info.session;
      default:
        return c;
    }
  });
}

/** Outcome of one command. */
export interface CommandResult {
  command: string;
  /** Exit code, or null if it died of a signal or did not start. */
  code: number | null;
  /** Last lines of its stderr and stdout, for the log. */
  output: string;
}

/** Runs one shell command and resolves when it exits. */
export function runShell(command: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (e) => resolve({ command, code: null, output: String(e) }));
    child.on("close", (code) => resolve({ command, code, output: output.trim() }));
  });
}

/**
 * Runs `commands` in order after substitution; a failing command is logged
 * with its exit code and output, and the next one still runs.
 */
export async function runCommands(kind: "up" | "down", commands: string[], info: LinkInfo, log: Logger): Promise<CommandResult[]> {
  const results: CommandResult[] = [];
  for (const template of commands) {
    const command = substitute(template, info);
    log.debug(`${kind}: ${command}`);
    const result = await runShell(command);
    results.push(result);
    if (result.code !== 0) {
      const status = result.code === null ? "did not run to completion" : `exited with code ${result.code}`;
      log.warn(`${kind} command failed: "${command}" ${status}${result.output ? `: ${result.output.split("\n").slice(-3).join(" | ")}` : ""}`);
    }
  }
  return results;
}
