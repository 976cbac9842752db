/**
 * Loads a configuration file by its name: TOML for `*.toml`, vtund.conf
 * syntax for anything else (gzip-compressed if it ends in `.gz`).
 */
import type { Config } from "./config.ts";
import { loadTomlConfig } from "./toml.ts";
import { loadVtundConf } from "./vtund_conf.ts";

/** Reads and validates the configuration at `path`; throws a ConfigError with `file:line: …` on mistakes. */
export function loadConfig(path: string): Config {
  return path.endsWith(".toml") ? loadTomlConfig(path) : loadVtundConf(path);
}
