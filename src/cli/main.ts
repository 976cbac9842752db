#!/usr/bin/env bun
/**
 * vtunts command-line entry point: parses the command line and the
 * configuration, then runs the server or the client. See `vtunts --help`.
 */
import { readFileSync, writeSync } from "node:fs";
import { loadLibc } from "../../ffi/index.ts";
import { errnoName } from "../../ffi/errno.ts";
import { LEGACY_CIPHER_WARNING } from "../crypto/cipher_stage.ts";
import type { Config } from "../config/config.ts";
import { loadConfig } from "../config/load.ts";
import { ConfigError } from "../config/toml.ts";
import { runClient } from "../daemon/client.ts";
import { checkTcpCongestion } from "../daemon/kernel_checks.ts";
import { runServer } from "../daemon/server.ts";
import { setWorkerEntry } from "../daemon/session_worker.ts";
import { makeLogger, type LogTarget } from "../daemon/syslog.ts";
import { ExitCode, FatalError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { DISABLED_FEATURES, isMainModule, runtimeName, setProcessName } from "../runtime/process.ts";
import { CodePageRelease } from "../runtime/code_pages.ts";
import { daemonize, isDaemonChild, reportFailure, reportReady } from "./daemonize.ts";
import { HELP, parseCommandLine, UsageError, type Command } from "./args.ts";
import { runConvert } from "./convert.ts";

/** Linux capability needed to create TUN devices. */
const CAP_NET_ADMIN = 12;

/** Whether this process may create TUN devices (CAP_NET_ADMIN in its effective set). */
function hasNetAdmin(): boolean {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
  } catch {
    return true; // cannot tell: let the TUN ioctl report it
  }
}

async function run(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      writeSync(2, `vtunts: ${e.message}\nTry 'vtunts --help'.\n`);
      return ExitCode.USAGE;
    }
    throw e;
  }
  if (command.kind === "help") {
    writeSync(1, HELP);
    return ExitCode.OK;
  }
  if (command.kind === "version") {
    writeSync(1, `vtunts ${VERSION} (vtund 3.0.x protocol; ${runtimeName()})\n`);
    return ExitCode.OK;
  }
  if (command.kind === "convert") return runConvert(command.path);

  const { common } = command;
  const config = loadConfig(common.configPath); // ConfigError → exit 1 (below)
  if (!hasNetAdmin()) {
    throw new FatalError("vtunts needs CAP_NET_ADMIN to create TUN devices: run it as root", ExitCode.LOCAL);
  }
  // inetd mode is started per connection by inetd: never detach; stdout is the connection.
  const inetd = command.kind === "server" && command.inetd;
  if (!common.foreground && !inetd && !isDaemonChild()) return await daemonize(argv, common.configPath);

  const libc = await loadLibc();
  const logTarget: LogTarget = isDaemonChild() || (inetd && !common.foreground) ? "syslog" : "stderr";
  const log = makeLogger(libc, logTarget, common.logLevel);
  for (const w of config.warnings ?? []) log.warn(`${config.source}: ${w}`);
  if (common.mlock) {
    const MCL_CURRENT_FUTURE = 3;
    const r = libc.mlockall(MCL_CURRENT_FUTURE);
    if (r < 0) log.warn(`-m: mlockall failed (${errnoName(r)}); continuing without locked memory`);
  }
  // A server may run any of its sessions, a client only the one it asks for.
  const mine = (c: Config) => command.kind === "server" ? c.sessions.values() : [c.sessions.get(command.session)].filter((s) => s !== undefined);
  checkTcpCongestion(libc, config, mine(config));
  // Under -m the pages stay: locked memory is what the user asked for.
  const codePages = new CodePageRelease(libc, log, !common.mlock && !DISABLED_FEATURES.has("code-release"));
  const encrypted = [...config.sessions.values()].filter((s) => s.encrypt !== null).map((s) => s.name);
  if (command.kind === "server" && encrypted.length > 0) {
    log.warn(`session(s) ${encrypted.join(", ")}: ${LEGACY_CIPHER_WARNING}`);
  }

  if (command.kind === "server") {
    return await runServer(libc, config, {
      port: common.port,
      bindaddr: command.bindaddr,
      timeout: common.timeout,
      logTarget,
      reload: () => {
        const fresh = loadConfig(common.configPath);
        checkTcpCongestion(libc, fresh, mine(fresh));
        return fresh;
      },
      onListening: () => {
        reportReady();
        codePages.now();
      },
      onSessionUp: () => codePages.sessionUp(),
      family: common.family,
      inetd,
    }, log);
  }
  if (!config.sessions.has(command.session)) {
    throw new FatalError(`Host ${command.session} not found in ${config.source}`, ExitCode.USAGE);
  }
  return await runClient(libc, config, {
    session: command.session,
    server: command.server,
    port: common.port,
    persist: command.persist,
    timeout: common.timeout,
    logTarget,
    family: common.family,
    quiet: common.quiet,
    onSessionUp: () => codePages.sessionUp(),
    onStarted: () => {
      reportReady();
      codePages.now();
    },
  }, log);
}

/** Runs vtunts with `argv` and exits with its code. */
export async function main(argv: string[]): Promise<never> {
  let code: number;
  try {
    code = await run(argv);
  } catch (e) {
    let message: string;
    if (e instanceof ConfigError) {
      [message, code] = [`vtunts: ${e.message}`, ExitCode.USAGE];
    } else if (e instanceof FatalError) {
      [message, code] = [`vtunts: ${e.message}`, e.exitCode];
    } else {
      [message, code] = [`vtunts: internal error: ${(e as Error).stack ?? String(e)}`, ExitCode.LOCAL];
    }
    writeSync(2, `${message}\n`); // synchronous: process.exit follows
    reportFailure(message);
  }
  process.exit(code);
}

if (isMainModule(import.meta)) {
  // A `bun build --compile` binary embeds the worker as its own entry point
  // (scripts/build), so session threads load only the data path's modules.
  if (import.meta.url.includes("/$bunfs/")) setWorkerEntry(new URL("./daemon/worker.js", import.meta.url));
  setProcessName("vtunts"); // "deno"/"node" otherwise; ignoring a failure is fine
  await main(process.argv.slice(2));
}
