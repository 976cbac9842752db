/**
 * `up` and `down` commands, run as vtund runs them: `%` substitution, then
 * either `/bin/sh -c ARGS` (a plain command) or PATH with ARGS split into
 * argv by vtund's rules (spaces separate, single quotes group, backslash
 * escapes). Commands run one after the other; `wait` decides whether the next
 * one waits for this one, and `ppp` pauses 10 s after starting pppd.
 */
import { spawn } from "node:child_process";
import type { Command } from "../config/config.ts";
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
  /** Exit code, or null if it died of a signal or did not start; undefined if not waited for. */
  code: number | null | undefined;
  /** Last lines of its stderr and stdout, for the log. */
  output: string;
}

/**
 * Splits vtund command arguments into argv: spaces separate words, single
 * quotes group words (the quotes are removed), a backslash takes the next
 * character literally.
 */
export function splitArgs(args: string): string[] {
  const argv: string[] = [];
  let word = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < args.length; i++) {
    const c = args[i]!;
    if (c === "\\" && i + 1 < args.length) {
      word += args[++i];
      inWord = true;
    } else if (c === "'") {
      quoted = !quoted;
      inWord = true;
    } else if ((c === " " || c === "\t") && !quoted) {
      if (inWord) argv.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) argv.push(word);
  return argv;
}

/** The argv a command runs as, after substitution. */
export function commandArgv(command: Command, info: LinkInfo): string[] {
  const args = substitute(command.args, info);
  return command.program === null ? ["/bin/sh", "-c", args] : [command.program, ...splitArgs(args)];
}

/** How a command's argv reads in the log. */
function describe(argv: string[]): string {
  return argv[0] === "/bin/sh" && argv[1] === "-c" ? argv[2]! : argv.join(" ");
}

/**
 * Starts one command. With `stdioFd` (pipe and tty sessions) its stdin and
 * stdout are that fd and stderr is discarded, as in vtund; otherwise output is
 * collected for the log. Resolves when it exits.
 */
export function startCommand(argv: string[], stdioFd: number | null = null): Promise<CommandResult> {
  const command = describe(argv);
  return new Promise((resolve) => {
    let output = "";
    const stdio = stdioFd === null ? (["ignore", "pipe", "pipe"] as const) : ([stdioFd, stdioFd, "ignore"] as const);
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: [...stdio] });
    } catch (e) {
      resolve({ command, code: null, output: String(e) });
      return;
    }
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (e) => resolve({ command, code: null, output: String(e) }));
    child.on("close", (code) => resolve({ command, code, output: output.trim() }));
  });
}

/** Runs one shell command and resolves when it exits. */
export function runShell(command: string): Promise<CommandResult> {
  return startCommand(["/bin/sh", "-c", command]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `commands` in order after substitution. A command with `wait` is
 * awaited before the next starts; a failing command is logged with its exit
 * code and output, and the next one still runs. Resolves when every command
 * that was waited for has finished (the others keep running).
 */
export async function runCommands(
  kind: "up" | "down",
  commands: readonly Command[],
  info: LinkInfo,
  log: Logger,
  stdioFd: number | null = null,
): Promise<CommandResult[]> {
  const results: CommandResult[] = [];
  const report = (r: CommandResult) => {
    if (r.code !== 0 && r.code !== undefined) {
      const status = r.code === null ? "did not run to completion" : `exited with code ${r.code}`;
      log.warn(`${kind} command failed: "${r.command}" ${status}${r.output ? `: ${r.output.split("\n").slice(-3).join(" | ")}` : ""}`);
    }
  };
  for (const command of commands) {
    const argv = commandArgv(command, info);
    log.debug(`${kind}: ${describe(argv)}`);
    const running = startCommand(argv, stdioFd);
    if (command.wait) {
      const result = await running;
      results.push(result);
      report(result);
    } else {
      results.push({ command: describe(argv), code: undefined, output: "" });
      void running.then(report);
    }
    if (command.delayAfter > 0) await sleep(command.delayAfter * 1000);
  }
  return results;
}
