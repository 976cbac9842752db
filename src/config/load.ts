/** Loads a configuration file by its format: TOML for `*.toml` (vtund.conf syntax comes later). */
import type { Config } from "./config.ts";
import { ConfigError, loadTomlConfig } from "./toml.ts";

/** Reads and validates the configuration at `path`. */
export function loadConfig(path: string): Config {
  if (path.endsWith(".toml")) return loadTomlConfig(path);
  throw new ConfigError(
    `${path}: classic vtund.conf files are not supported by this version yet; write the configuration in TOML (a file ending in .toml, see README)`,
  );
}
