/**
 * Checks of a configuration against the running kernel, made before a daemon
 * listens or connects (and before a server takes a re-read configuration):
 * otherwise the mistake would show only after a peer has authenticated.
 */
import type { Libc } from "../../ffi/libc.ts";
import { ConfigError } from "../config/common.ts";
import type { Config, SessionConfig } from "../config/config.ts";
import { congestionProblem } from "../transport/socket.ts";

/**
 * Throws a {@link ConfigError} naming the first of `sessions` (those this
 * daemon may run) whose `tcp_congestion` this kernel refuses. Each name is
 * tried once, on a throwaway socket.
 */
export function checkTcpCongestion(libc: Libc, config: Config, sessions: Iterable<SessionConfig>): void {
  const tried = new Map<string, string | null>();
  for (const s of sessions) {
    const name = s.tcpCongestion;
    if (name === null) continue;
    if (!tried.has(name)) tried.set(name, congestionProblem(libc, name));
    const problem = tried.get(name);
    if (problem) throw new ConfigError(`${config.source}: hosts.${s.name}.tcp_congestion: ${problem}`);
  }
}
