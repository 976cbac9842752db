/**
 * `vtunts convert FILE`: reads a vtund.conf (or a vtunts TOML file, by the
 * same rule as -f: *.toml is TOML) and prints the equivalent vtunts TOML on
 * stdout, every option and session key spelled out. Warnings (ignored
 * sessions, …) go to stderr and into comments at the top of the output.
 * Exit code 0, or 1 with the one-line error of a bad file.
 */
import { writeSync } from "node:fs";
import { loadConfig } from "../config/load.ts";
import { ConfigError } from "../config/common.ts";
import { configToToml } from "../config/to_toml.ts";
import { ExitCode } from "../errors.ts";

/** Where convert writes; stdout and stderr by default. */
export interface ConvertOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: ConvertOutput = {
  out: (text) => writeAll(1, text),
  err: (text) => writeAll(2, text),
};

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
}

/** Converts the configuration at `path` to TOML; returns the exit code. */
export function runConvert(path: string, io: ConvertOutput = STDIO): number {
  let toml: string;
  let warnings: string[];
  try {
    const config = loadConfig(path);
    toml = configToToml(config);
    warnings = config.warnings ?? [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.err(`vtunts: ${e.message}\n`);
    return ExitCode.USAGE;
  }
  for (const w of warnings) io.err(`vtunts: warning: ${w}\n`);
  io.out(toml);
  return ExitCode.OK;
}
